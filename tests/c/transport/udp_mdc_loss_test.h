/* The MDC / multicast loss run shared by test_udp_mdc_loss*.c: one
 * publisher driver, three subscriber drivers, each with its own loss seed,
 * random message sizes (udp_loss_test.h); every subscriber must get every
 * message in order, exactly once, byte-identical. */
#ifndef UDP_MDC_LOSS_TEST_H
#define UDP_MDC_LOSS_TEST_H

#include "udp_multi_test.h"

#define SUBS 3

/* upstream: the loss happens once, before the group (the publisher's driver
 * drops that share of what it sends, so every receiver misses the same
 * datagrams) instead of at each receiver and on the way back. */
static int run_mdc_loss_test_with(const char *name, const char *rate, const char *term_length, long messages,
    int64_t timeout_ms, bool multicast, bool upstream)
{
    const char *pub_settings[] = { upstream ? "SEND_LOSS_RATE" : "RCV_LOSS_RATE", rate, "LOSS_SEED", "7", NULL };
    multi_envs_t m;
    memset(&m, 0, sizeof(m));
    char env_name[64];
    snprintf(env_name, sizeof(env_name), "%s-pub", name);
    if (udp_test_env_start(&m.pub_env, env_name, pub_settings) < 0)
    {
        return -1;
    }
    static const char *const seeds[SUBS] = { "11", "13", "17" };
    for (int i = 0; i < SUBS; i++)
    {
        const char *sub_settings[] = { "RCV_LOSS_RATE", upstream ? "0" : rate, "LOSS_SEED", seeds[i], NULL };
        snprintf(env_name, sizeof(env_name), "%s-sub%d", name, i);
        if (udp_test_env_start(&m.sub_env[i], env_name, sub_settings) < 0)
        {
            return -1;
        }
        m.sub_count++;
    }
    int control_port = udp_test_free_port();
    char pub_uri[256];
    char group_uri[256];
    /* Multicast: one group of our own (last octet odd: control is G+1). */
    udp_test_uri(group_uri, sizeof(group_uri), "aeron:udp?endpoint=239.255.%d.201:%d|interface=127.0.0.1",
        (int)(getpid() % 250), control_port);
    if (multicast)
    {
        udp_test_uri(pub_uri, sizeof(pub_uri), "%s|fc=min|term-length=%s", group_uri, term_length);
    }
    else
    {
        udp_test_uri(pub_uri, sizeof(pub_uri),
            "aeron:udp?control=127.0.0.1:%d|control-mode=dynamic|fc=min|term-length=%s", control_port, term_length);
    }
    shoal_subscription_t *subs[SUBS];
    for (int i = 0; i < SUBS; i++)
    {
        char sub_uri[256];
        udp_test_uri(sub_uri, sizeof(sub_uri), "aeron:udp?endpoint=127.0.0.1:%d|control=127.0.0.1:%d",
            udp_test_free_port(), control_port);
        if (multicast)
        {
            snprintf(sub_uri, sizeof(sub_uri), "%s", group_uri);
        }
        if (shoal_add_subscription(m.sub_env[i].client, sub_uri, 78, &subs[i]) < 0)
        {
            fprintf(stderr, "subscription %s: %s\n", sub_uri, shoal_errmsg());
            return -1;
        }
    }
    shoal_publication_t *pub = NULL;
    if (shoal_add_exclusive_publication(m.pub_env.client, pub_uri, 78, &pub) < 0)
    {
        fprintf(stderr, "publication %s: %s\n", pub_uri, shoal_errmsg());
        return -1;
    }
    /* fc=min counts only receivers it has heard: wait for all three images
     * (their SMs follow at once) before the race starts. */
    for (int i = 0; i < SUBS; i++)
    {
        if (shoal_test_wait_images(subs[i], 1, 10000) < 0)
        {
            fprintf(stderr, "subscriber %d: no image\n", i);
            return -1;
        }
    }
    if (shoal_test_wait_connected(pub) < 0)
    {
        fprintf(stderr, "publication never connected\n");
        return -1;
    }
    shoal_test_sleep_ms(300);

    loss_checker_t *checkers = calloc(SUBS, sizeof(*checkers));
    for (int i = 0; i < SUBS; i++)
    {
        checkers[i].rng.state = 0x1234567ULL;
    }
    loss_sender_t sender = { { 0x1234567ULL }, 0, false, 0, 0, { 0 } };
    int64_t start = shoal_test_now_ms();
    int64_t deadline = start + timeout_ms;
    bool done = false;
    while (!done && shoal_test_now_ms() < deadline)
    {
        if (loss_offer_burst(&sender, pub, (uint64_t)messages) < 0)
        {
            return -1;
        }
        done = true;
        for (int i = 0; i < SUBS; i++)
        {
            shoal_subscription_poll(subs[i], loss_check, &checkers[i], 256);
            done = done && checkers[i].next_seq >= (uint64_t)messages;
        }
    }
    int64_t elapsed = shoal_test_now_ms() - start;
    /* A little longer: nothing more (no duplicates) may arrive. */
    int64_t settle = shoal_test_now_ms() + 200;
    while (shoal_test_now_ms() < settle)
    {
        for (int i = 0; i < SUBS; i++)
        {
            shoal_subscription_poll(subs[i], loss_check, &checkers[i], 256);
        }
    }
    int64_t naks = 0;
    for (int i = 0; i < SUBS; i++)
    {
        naks += udp_test_counter(m.sub_env[i].dir, SHOAL_SYSTEM_COUNTER_NAKS_SENT);
    }
    int64_t retransmits = udp_test_counter(m.pub_env.dir, SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT);
    int64_t naks_received = udp_test_counter(m.pub_env.dir, SHOAL_SYSTEM_COUNTER_NAKS_RECEIVED);
    printf("%s loss test %s: %d subscribers, term %s, loss rate %s %s, %ld messages (%.1f MB payload) in "
           "%.2f s (%.0f msg/s); per subscriber received/errors:",
        multicast ? "multicast" : "MDC", name, SUBS, term_length, rate,
        upstream ? "upstream (publisher's sends)" : "each way", messages, (double)sender.bytes / 1e6,
        (double)elapsed / 1000.0, (double)messages * 1000.0 / (double)(elapsed > 0 ? elapsed : 1));
    int rc = 0;
    for (int i = 0; i < SUBS; i++)
    {
        printf(" %llu/%llu", (unsigned long long)checkers[i].next_seq, (unsigned long long)checkers[i].errors);
        if (checkers[i].next_seq != (uint64_t)messages || 0 != checkers[i].errors)
        {
            rc = -1;
        }
    }
    printf("; NAKs sent %lld (received %lld after loss), retransmitted datagrams %lld\n", (long long)naks,
        (long long)naks_received, (long long)retransmits);
    printf("%s loss test %s: NAKs over retransmit budget %lld, from unknown receivers %lld\n",
        multicast ? "multicast" : "MDC", name,
        (long long)udp_test_counter(m.pub_env.dir, SHOAL_SYSTEM_COUNTER_NAKS_OVER_BUDGET),
        (long long)udp_test_counter(m.pub_env.dir, SHOAL_SYSTEM_COUNTER_NAKS_FROM_UNKNOWN_RECEIVERS));
    fflush(stdout);
    free(checkers);
    shoal_publication_close(pub);
    for (int i = 0; i < SUBS; i++)
    {
        shoal_subscription_close(subs[i]);
    }
    multi_envs_stop(&m);
    return rc;
}

static int run_mdc_loss_test(const char *name, const char *rate, const char *term_length, long messages,
    int64_t timeout_ms, bool multicast)
{
    return run_mdc_loss_test_with(name, rate, term_length, messages, timeout_ms, multicast, false);
}

#endif
