/*
 * Settings shared by an embedded driver and its clients. A context is filled
 * once (environment first, then setters) and only read afterwards, so the
 * driver and client threads can read it without locks.
 */
#ifndef SHOAL_CONTEXT_H
#define SHOAL_CONTEXT_H

#include <limits.h>
#include <stdint.h>
#include <stdbool.h>
#include "shoal/shoal.h"

#define SHOAL_DIR_MAX 256

struct shoal_context_stct
{
    char dir[SHOAL_DIR_MAX];
    uint64_t driver_timeout_ms;
    uint64_t client_liveness_timeout_ms;
    uint64_t publication_unblock_timeout_ms;
    uint64_t publication_linger_ms;
    uint64_t keepalive_interval_ms;
    uint32_t ipc_term_length;
    uint32_t term_length;
    uint32_t mtu;
    uint32_t to_driver_buffer_length;
    uint32_t to_clients_buffer_length;
    uint32_t counters_buffer_length;
    uint32_t error_buffer_length;
    shoal_idle_strategy_t idle_strategy;
    bool dir_delete_on_start;
    bool dir_delete_on_shutdown;
    shoal_error_handler_t error_handler;
    void *error_handler_clientd;
};

#endif
