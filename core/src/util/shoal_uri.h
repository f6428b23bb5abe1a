/*
 * Channel URI parser. Aeron syntax so users' habits carry over:
 *
 *   aeron:ipc
 *   aeron:udp?endpoint=host:port|interface=eth0|ttl=8
 *   aeron:udp?control=host:port|control-mode=dynamic
 *   aeron:udp?control=host:port|control-mode=response   (response channels,
 *       docs/response-channels.md; aeron:ipc takes control-mode=response too)
 *   aeron-spy:aeron:udp?endpoint=host:port   (a subscription on the local
 *                                            publication of that channel)
 *
 * Parsing is strict: an unknown key, a duplicate key, a key that does not
 * apply to the media (e.g. endpoint on aeron:ipc) or a bad value fails with
 * SHOAL_EURI and a message naming the key and the URI. Nothing is allocated;
 * the parsed form is a plain value the caller owns.
 *
 * shoal_uri_print gives a canonical text (keys in a fixed order, numbers in
 * plain decimal), so two URIs that mean the same thing print the same and the
 * driver can use the text as a key to match publications.
 *
 * Thread-safety: pure functions; call from any thread.
 */
#ifndef SHOAL_URI_H
#define SHOAL_URI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal/shoal.h"

typedef enum shoal_media_en
{
    SHOAL_MEDIA_IPC = 1,
    SHOAL_MEDIA_UDP = 2
} shoal_media_t;

typedef enum shoal_control_mode_en
{
    SHOAL_CONTROL_MODE_NONE = 0,
    SHOAL_CONTROL_MODE_DYNAMIC,
    SHOAL_CONTROL_MODE_MANUAL,
    SHOAL_CONTROL_MODE_RESPONSE
} shoal_control_mode_t;

#define SHOAL_URI_MAX_LENGTH 1024

#define SHOAL_URI_MIN_TERM_LENGTH (64 * 1024)
#define SHOAL_URI_MAX_TERM_LENGTH (1024 * 1024 * 1024)
#define SHOAL_URI_MIN_MTU         64
#define SHOAL_URI_MAX_MTU         65504
#define SHOAL_URI_MTU_ALIGNMENT   32

/* Key names, shared with the printer and anyone building URIs. */
#define SHOAL_URI_ENDPOINT_KEY                        "endpoint"
#define SHOAL_URI_INTERFACE_KEY                       "interface"
#define SHOAL_URI_CONTROL_KEY                         "control"
#define SHOAL_URI_CONTROL_MODE_KEY                    "control-mode"
#define SHOAL_URI_FC_KEY                              "fc"
#define SHOAL_URI_ALIAS_KEY                           "alias"
#define SHOAL_URI_TERM_LENGTH_KEY                     "term-length"
#define SHOAL_URI_MTU_KEY                             "mtu"
#define SHOAL_URI_SESSION_ID_KEY                      "session-id"
#define SHOAL_URI_LINGER_KEY                          "linger"
#define SHOAL_URI_TTL_KEY                             "ttl"
#define SHOAL_URI_RELIABLE_KEY                        "reliable"
#define SHOAL_URI_SPARSE_KEY                          "sparse"
#define SHOAL_URI_GROUP_KEY                           "group"
#define SHOAL_URI_TETHER_KEY                          "tether"
#define SHOAL_URI_RCV_WINDOW_KEY                      "rcv-window"
#define SHOAL_URI_SSC_KEY                             "ssc"
#define SHOAL_URI_UNTETHERED_WINDOW_LIMIT_TIMEOUT_KEY "untethered-window-limit-timeout"
#define SHOAL_URI_UNTETHERED_RESTING_TIMEOUT_KEY      "untethered-resting-timeout"
#define SHOAL_URI_RESPONSE_CORRELATION_ID_KEY         "response-correlation-id"
#define SHOAL_URI_INIT_TERM_ID_KEY                    "init-term-id"
#define SHOAL_URI_TERM_ID_KEY                         "term-id"
#define SHOAL_URI_TERM_OFFSET_KEY                     "term-offset"

/* A subscription channel with this prefix spies on the local network
 * publication of the aeron:udp channel that follows (Aeron's syntax). */
#define SHOAL_URI_SPY_PREFIX "aeron-spy:"

typedef struct shoal_uri_stct
{
    shoal_media_t media;
    bool spy;                          /* "aeron-spy:" prefix (aeron:udp only) */
    char endpoint[256];                /* "" when absent */
    char interface_name[256];          /* "" when absent */
    char control[256];                 /* "" when absent */
    shoal_control_mode_t control_mode; /* NONE when absent */
    char fc[64];                       /* "min" | "max" | "tagged", optional ",..." params, kept as text */
    char alias[64];                    /* free text, "" when absent */
    bool has_term_length;
    int32_t term_length; /* power of two, 64 KiB .. 1 GiB; k/m/g suffix accepted */
    bool has_mtu;
    int32_t mtu; /* multiple of 32, 64 .. 65504; k/m/g suffix accepted */
    bool has_session_id;
    int32_t session_id; /* any int32, may be negative */
    bool has_linger;
    int64_t linger_ns; /* "5s", "100ms", "250us", "10ns" or plain ns */
    bool has_ttl;
    int32_t ttl; /* 0..255 */
    bool has_reliable;
    bool reliable; /* true|false */
    bool has_sparse;
    bool sparse;
    bool has_group;
    bool group;
    bool has_tether;
    bool tether;
    bool has_rcv_window;
    int32_t rcv_window; /* > 0; k/m/g suffix accepted, e.g. 128k */
    bool has_response_correlation_id;
    int64_t response_correlation_id; /* >= 0: a subscription's registration id or an image's correlation id */
    bool has_ssc;
    bool ssc; /* spies simulate connection (publication, aeron:udp) */
    bool has_untethered_window_limit_timeout;
    int64_t untethered_window_limit_timeout_ns; /* a duration as linger */
    bool has_untethered_resting_timeout;
    int64_t untethered_resting_timeout_ns; /* a duration as linger */
    /* Where an exclusive publication starts (Aeron's init-term-id, term-id,
     * term-offset): all three or none, with term-length; the start position
     * is (term_id - initial_term_id) * term_length + term_offset. */
    bool has_position;
    int32_t initial_term_id;
    int32_t term_id;
    int32_t term_offset; /* 0..term_length, a multiple of 32 */
} shoal_uri_t;

/* Parses uri into *out (fully overwritten). 0, or -1 with SHOAL_EURI (SHOAL_EINVAL
 * for out == NULL) and a message naming the key/value and the URI.
 * Checks beyond single values: aeron:udp needs endpoint, control or
 * control-mode=manual; control-mode=dynamic and =response need control on
 * aeron:udp; aeron:ipc takes no control-mode but response; init-term-id,
 * term-id and term-offset come together and with term-length. Whether a URI suits
 * a publication or a subscription is left to the driver. */
int shoal_uri_parse(const char *uri, shoal_uri_t *out);

/* Canonical print can exceed the input length (e.g. "1m" -> "1048576"); a
 * buffer of this size always fits the canonical form of any shoal_uri_t. */
#define SHOAL_URI_PRINT_MAX_LENGTH 2048

/* Writes the canonical form into buf (NUL-terminated): "aeron:<media>" (after
 * "aeron-spy:" for a spy) then the
 * present keys as "?k=v|k=v" in the order of the struct fields, booleans as
 * true/false, sizes and linger as plain decimal (linger in ns). Returns the
 * length written (excluding the NUL), or -1 with SHOAL_EINVAL if buf is too small. */
int shoal_uri_print(const shoal_uri_t *uri, char *buf, size_t len);

const char *shoal_media_name(shoal_media_t media); /* "ipc", "udp" or "unknown" */

#endif
