/*
 * A replay session: a recording's frames, read from its segment files
 * (shoal_recording_reader), published as they were recorded on an exclusive
 * publication placed at the replay's start position (init-term-id, term-id,
 * term-offset: the recording's geometry), so the subscriber's image carries
 * the recording's positions. Blocks go out with shoal_publication_offer_block,
 * never more than the publication's window allows (back pressure holds the
 * block for the next do_work). A replay with length -1 of a recording still
 * being written follows it: new blocks go out as the writer commits them,
 * and the replay ends when the recording stops and its stop is reached.
 *
 * At the end (the length replayed, the stop reached) the publication is
 * closed: the subscriber reads everything, then its image goes (end of
 * stream). A replay also ends, with an error, when its subscriber goes away
 * (the publication no longer connected), when none connects within the
 * connect timeout, or on a corrupt segment.
 *
 * The archive server owns replayers: one thread (its conductor) calls
 * do_work until is_done, then close. create adds the publication through the
 * server's client (a blocking call on the driver, as any add).
 */
#ifndef SHOAL_ARCHIVE_REPLAYER_H
#define SHOAL_ARCHIVE_REPLAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal/shoal_archive.h"

typedef struct shoal_archive_replayer_stct shoal_archive_replayer_t;

typedef struct shoal_archive_replay_params_stct
{
    const char *archive_dir;
    const shoal_recording_descriptor_t *recording; /* copied */
    int64_t position;                              /* -1: the recording's start */
    int64_t length;                                /* -1: to the stop, following a live recording */
    const char *channel; /* replay channel; must leave term-length, mtu, session-id and the position keys out */
    int32_t stream_id;
    int32_t session_id;         /* the replay publication's (the low 32 bits of the replay session id) */
    size_t max_block_length;    /* bytes offered at once; 0: SHOAL_ARCHIVE_REPLAY_DEFAULT_BLOCK_LENGTH */
    int64_t connect_timeout_ns; /* 0: SHOAL_ARCHIVE_REPLAY_DEFAULT_CONNECT_TIMEOUT_NS */
} shoal_archive_replay_params_t;

#define SHOAL_ARCHIVE_REPLAY_DEFAULT_BLOCK_LENGTH       (256 * 1024)
#define SHOAL_ARCHIVE_REPLAY_DEFAULT_CONNECT_TIMEOUT_NS (5 * 1000 * 1000 * 1000LL)

/* Opens the recording reader at (position, length) and adds the replay
 * publication. SHOAL_EINVAL for bad parameters (a position not on a frame
 * boundary, a length past the stop, a channel that sets what the recording
 * decides: the message names it); SHOAL_EIO for the files; the driver's
 * error for the publication. Nothing is left open on failure. */
int shoal_archive_replayer_create(shoal_archive_replayer_t **r, shoal_client_t *client,
    const shoal_archive_replay_params_t *params);

/* Offers what the window allows. Returns the work done (>= 0), or -1 once
 * when the replay failed (error set; it is then done). */
int shoal_archive_replayer_do_work(shoal_archive_replayer_t *r);

/* True once the replay ended (end reached and publication closed, or failed). */
bool shoal_archive_replayer_is_done(const shoal_archive_replayer_t *r);

/* True if the replay ended with an error (do_work returned -1). */
bool shoal_archive_replayer_failed(const shoal_archive_replayer_t *r);

/* The stream position up to which frames were published. */
int64_t shoal_archive_replayer_position(const shoal_archive_replayer_t *r);

/* The replay publication's session id. */
int32_t shoal_archive_replayer_session_id(const shoal_archive_replayer_t *r);

/* A followed recording stopped at stop_position (the server knows first:
 * its writer closed); the reader would see it in the catalog otherwise. */
int shoal_archive_replayer_set_stop(shoal_archive_replayer_t *r, int64_t stop_position);

/* Closes the publication (if still open) and the reader, frees r. NULL: 0. */
int shoal_archive_replayer_close(shoal_archive_replayer_t *r);

#endif
