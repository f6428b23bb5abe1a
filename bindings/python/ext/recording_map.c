/*
 * read_records: a recording as a numpy structured array.
 *
 * The segment files (<id>-<base>.rec, docs/archive.md "Files") are mapped
 * MAP_SHARED read-only over one PROT_NONE reservation, one after the other,
 * so stream position p is at addr + (p - base_position) across segments. The
 * frames are then walked once (headers only) to count the messages and see
 * whether they are all single frames of the same length with no padding: if
 * so, record i sits at a fixed stride and the result is a strided view of the
 * mapping (the array's base is the RecordingMap, which keeps it mapped); else
 * a second walk copies each message (fragments joined) into a new array.
 * Both walks run without the GIL. The headers are read at every call (what
 * the files hold is checked every time); the mapping of a stopped recording
 * is kept by its reader and reused (mapping is what costs most on a fresh
 * read: page-table set-up and first touches), so a second read of the same
 * recording runs at the speed of the walk.
 *
 * A recording still being written ends at the first frame not yet committed
 * (its length word is written last). Truncating or purging a recording while
 * a view of it is alive makes reading the view fault (SIGBUS), as with any
 * mapped file: copy (numpy.array(view)) what must outlive such an operation.
 */
#include "recording_map.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive/shoal_archive_format.h"
#include "errors.h"
#include "numpy_records.h"
#include "protocol/shoal_frames.h"

typedef struct
{
    PyObject_HEAD uint8_t *addr; /* the reservation, or NULL */
    size_t length;               /* bytes reserved */
    int64_t base_position;       /* stream position at addr[0] */
    int64_t end_position;        /* mapped file bytes end here */
    Py_ssize_t exports;
} RecordingMapObject;

static void RecordingMap_dealloc(RecordingMapObject *self)
{
    if (NULL != self->addr)
    {
        munmap(self->addr, self->length);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int RecordingMap_getbuffer(RecordingMapObject *self, Py_buffer *view, int flags)
{
    if (flags & PyBUF_WRITABLE)
    {
        PyErr_SetString(PyExc_BufferError, "a recording's mapping is read-only");
        view->obj = NULL;
        return -1;
    }
    self->exports++;
    return PyBuffer_FillInfo(view, (PyObject *)self, self->addr, (Py_ssize_t)(self->end_position - self->base_position),
        1, flags);
}

static void RecordingMap_releasebuffer(RecordingMapObject *self, Py_buffer *view)
{
    (void)view;
    self->exports--;
}

static PyBufferProcs RecordingMap_as_buffer = {
    (getbufferproc)RecordingMap_getbuffer,
    (releasebufferproc)RecordingMap_releasebuffer,
};

PyTypeObject RecordingMapType = {
    SHOAL_TYPE_HEAD("_RecordingMap", RecordingMapObject, RecordingMap_dealloc, Py_TPFLAGS_DEFAULT,
        "A recording's segment files mapped read-only (the base of a read_records view)."),
    .tp_as_buffer = &RecordingMap_as_buffer,
};

static PyObject *raise_io(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static PyObject *raise_io(const char *fmt, ...)
{
    char text[PATH_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    return raise_with_code(ShoalIOError, SHOAL_EIO, text);
}

/* Maps the segments of d holding [from, to) (to -1: every segment file there
 * is, for a recording still being written). NULL with an exception. */
static RecordingMapObject *recording_map_open(const char *dir, const shoal_recording_descriptor_t *d, int64_t from,
    int64_t to)
{
    const int64_t segment_length = d->segment_length;
    const int64_t first_base = shoal_segment_base(d->start_position, from, d->term_length, d->segment_length);
    int64_t segments;
    char path[PATH_MAX];
    if (to >= 0)
    {
        int64_t last_base =
            to > from ? shoal_segment_base(d->start_position, to - 1, d->term_length, d->segment_length) : first_base;
        segments = (last_base - first_base) / segment_length + 1;
    }
    else
    {
        for (segments = 0;; segments++)
        {
            if (shoal_segment_file_name(path, sizeof(path), dir, d->recording_id,
                    first_base + segments * segment_length) < 0 ||
                0 != access(path, F_OK))
            {
                break;
            }
        }
        if (0 == segments)
        {
            segments = 1; /* reported missing below */
        }
    }
    RecordingMapObject *m = PyObject_New(RecordingMapObject, &RecordingMapType);
    if (NULL == m)
    {
        return NULL;
    }
    m->exports = 0;
    m->base_position = first_base;
    m->end_position = first_base;
    m->length = (size_t)(segments * segment_length);
    m->addr = mmap(NULL, m->length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (MAP_FAILED == m->addr)
    {
        m->addr = NULL;
        Py_DECREF(m);
        PyErr_SetFromErrno(PyExc_MemoryError);
        return NULL;
    }
    for (int64_t k = 0; k < segments; k++)
    {
        const int64_t base = first_base + k * segment_length;
        if (shoal_segment_file_name(path, sizeof(path), dir, d->recording_id, base) < 0)
        {
            Py_DECREF(m);
            return (RecordingMapObject *)raise_last_error(NULL);
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
        {
            int err = errno;
            if (fd >= 0)
            {
                close(fd);
            }
            Py_DECREF(m);
            return (RecordingMapObject *)raise_io("recording %lld: segment %s: %s", (long long)d->recording_id, path,
                strerror(err));
        }
        size_t file_bytes = (size_t)(st.st_size < segment_length ? st.st_size : segment_length);
        if (to >= 0 && to - base < (int64_t)file_bytes)
        {
            /* only what the recording holds: a segment's unwritten tail is reserved space, not data */
            file_bytes = (size_t)(to - base);
        }
        if (file_bytes > 0 &&
            MAP_FAILED ==
                mmap(m->addr + k * segment_length, file_bytes, PROT_READ, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, 0))
        {
            int err = errno;
            close(fd);
            Py_DECREF(m);
            return (RecordingMapObject *)raise_io("recording %lld: cannot map %s: %s", (long long)d->recording_id, path,
                strerror(err));
        }
        close(fd);
        m->end_position = base + (int64_t)file_bytes;
        if ((int64_t)file_bytes < segment_length)
        {
            break; /* the recording's end, or a short file: nothing readable past it */
        }
    }
    return m;
}

/* What a walk over the frames found. */
typedef struct
{
    int64_t records;      /* complete messages */
    int64_t end;          /* position after the last complete message */
    int uniform;          /* every frame so far: one unfragmented message of frame_length, no padding */
    int64_t bad_position; /* first message of another length (its end position), or -1 */
    int64_t bad_length;
    const char *corrupt; /* why the frames cannot be read, or NULL */
    int64_t corrupt_position;
} walk_t;

/* The end of the run of frames starting with word from p, stride apart: the
 * counting walk's inner loop. It reads one header per cache line or two, so
 * it runs at the memory's speed; the prefetch keeps loads in flight across
 * page boundaries, where the hardware prefetcher stops (prefetching past the
 * mapping is harmless: it never faults). */
/* What every frame of a recording must say about itself (docs/archive.md,
 * "Segment files"): its term offset and term id are those of its position,
 * its session and stream ids the recording's. */
typedef struct
{
    int64_t term_mask;
    int32_t term_shift; /* log2(term_length) */
    int32_t initial_term_id;
    uint64_t ids; /* session id, stream id: the 8 bytes at offset 12 */
} frame_identity_t;

static inline bool frame_in_place(const uint8_t *frame, int64_t p, const frame_identity_t *id)
{
    int32_t term_offset, term_id;
    uint64_t ids;
    memcpy(&term_offset, frame + SHOAL_DATA_TERM_OFFSET_OFFSET, sizeof(term_offset));
    memcpy(&ids, frame + SHOAL_DATA_SESSION_ID_OFFSET, sizeof(ids));
    memcpy(&term_id, frame + SHOAL_DATA_TERM_ID_OFFSET, sizeof(term_id));
    return term_offset == (int32_t)(p & id->term_mask) && ids == id->ids &&
        term_id == (int32_t)((uint32_t)id->initial_term_id + (uint32_t)(p >> id->term_shift));
}

static int64_t uniform_run(const uint8_t *base, int64_t p, int64_t limit, int64_t stride, uint64_t word,
    const frame_identity_t *id)
{
    const int64_t ahead = 16 * stride;
    while (p + stride <= limit)
    {
        __builtin_prefetch(base + p + ahead);
        if (__atomic_load_n((const uint64_t *)(base + p), __ATOMIC_ACQUIRE) != word || !frame_in_place(base + p, p, id))
        {
            break;
        }
        p += stride;
    }
    return p;
}

/*
 * Walks the frames of m in [from, stop) (stop -1: until the first frame not
 * committed). out NULL: counts and checks. Else copies messages with index in
 * [first, last) into out (itemsize bytes each). Needs no Python.
 */
static void walk_frames(const RecordingMapObject *m, const shoal_recording_descriptor_t *d, int64_t from, int64_t stop,
    size_t itemsize, uint8_t *out, int64_t first, int64_t last, walk_t *w)
{
    const int64_t limit = stop >= 0 && stop < m->end_position ? stop : m->end_position;
    const int64_t term_mask = d->term_length - 1;
    const int32_t frame_length = (int32_t)(SHOAL_DATA_HEADER_LENGTH + itemsize);
    const int64_t stride = (frame_length + SHOAL_FRAME_ALIGNMENT - 1) & ~(int64_t)(SHOAL_FRAME_ALIGNMENT - 1);
    /* length word, version 0, flags BEGIN|END, type DATA: the first 8 bytes of a uniform frame */
    const uint64_t word = (uint32_t)frame_length | ((uint64_t)SHOAL_FRAME_FLAG_UNFRAGMENTED << 40) |
        ((uint64_t)SHOAL_HDR_TYPE_DATA << 48);
    const uint8_t *base = m->addr - m->base_position;
    frame_identity_t id = { term_mask, __builtin_ctz((unsigned)d->term_length), d->initial_term_id,
        (uint32_t)d->session_id | ((uint64_t)(uint32_t)d->stream_id << 32) };
    int64_t p = from, n = 0;
    int64_t message_start = -1; /* position of a fragmented message's BEGIN */
    int64_t message_length = 0;
    w->uniform = 1;
    w->bad_position = -1;
    w->bad_length = 0;
    w->corrupt = NULL;
    w->end = from;
    while (p < limit)
    {
        /* the common case: a run of single-frame messages of the dtype's length */
        if (message_start < 0)
        {
            if (NULL == out)
            {
                const int64_t run_start = p;
                p = uniform_run(base, p, limit, stride, word, &id);
                n += (p - run_start) / stride;
            }
            else
            {
                while (p + stride <= limit && __atomic_load_n((const uint64_t *)(base + p), __ATOMIC_ACQUIRE) == word &&
                    frame_in_place(base + p, p, &id))
                {
                    if (n >= first && n < last)
                    {
                        memcpy(out + (size_t)(n - first) * itemsize, base + p + SHOAL_DATA_HEADER_LENGTH, itemsize);
                    }
                    n++;
                    p += stride;
                }
            }
            w->end = p;
            if (p >= limit)
            {
                break;
            }
        }
        /* anything else: the records are no longer at one stride from the start */
        const shoal_frame_header_t *h = (const shoal_frame_header_t *)(base + p);
        const int32_t length = __atomic_load_n(&h->frame_length, __ATOMIC_ACQUIRE);
        if (0 == length && stop < 0)
        {
            break; /* not written yet: the end of a recording in progress */
        }
        const int64_t aligned = ((int64_t)length + SHOAL_FRAME_ALIGNMENT - 1) & ~(int64_t)(SHOAL_FRAME_ALIGNMENT - 1);
        if (length < SHOAL_DATA_HEADER_LENGTH || (p & term_mask) + aligned > d->term_length || p + aligned > limit)
        {
            w->corrupt = 0 == length ? "no frame where the recording says there is data" : "bad frame length";
            w->corrupt_position = p;
            break;
        }
        if (SHOAL_FRAME_VERSION != h->version || !frame_in_place(base + p, p, &id))
        {
            w->corrupt = "a frame whose version, term offset, term id, session or stream is not the recording's";
            w->corrupt_position = p;
            break;
        }
        if (SHOAL_HDR_TYPE_DATA == h->type && length > d->mtu)
        {
            w->corrupt = "a data frame longer than the recording's mtu";
            w->corrupt_position = p;
            break;
        }
        w->uniform = 0;
        if (SHOAL_HDR_TYPE_PAD == h->type)
        {
            p += aligned;
            if (message_start < 0)
            {
                w->end = p;
            }
            continue;
        }
        if (SHOAL_HDR_TYPE_DATA != h->type)
        {
            w->corrupt = "a frame that is neither data nor padding";
            w->corrupt_position = p;
            break;
        }
        const size_t payload = (size_t)length - SHOAL_DATA_HEADER_LENGTH;
        const uint8_t flags = h->flags;
        if (flags & SHOAL_FRAME_FLAG_BEGIN)
        {
            message_start = p;
            message_length = 0;
        }
        else if (message_start < 0)
        {
            w->corrupt = "a middle or end fragment without its beginning";
            w->corrupt_position = p;
            break;
        }
        if (NULL != out && n >= first && n < last && message_length + (int64_t)payload <= (int64_t)itemsize)
        {
            memcpy(out + (size_t)(n - first) * itemsize + message_length, base + p + SHOAL_DATA_HEADER_LENGTH, payload);
        }
        message_length += (int64_t)payload;
        p += aligned;
        if (flags & SHOAL_FRAME_FLAG_END)
        {
            if (message_length != (int64_t)itemsize && w->bad_position < 0)
            {
                w->bad_position = p;
                w->bad_length = message_length;
            }
            n++;
            message_start = -1;
            w->end = p;
        }
    }
    w->records = n;
}

/* The index of a Python slice bound over n records. */
static int slice_bound(PyObject *v, int64_t n, int64_t missing, int64_t *out)
{
    if (NULL == v || Py_None == v)
    {
        *out = missing;
        return 0;
    }
    long long i = PyLong_AsLongLong(v);
    if (-1 == i && PyErr_Occurred())
    {
        return -1;
    }
    if (i < 0)
    {
        i += n;
    }
    *out = i < 0 ? 0 : (i > n ? n : i);
    return 0;
}

/* The mapping of d: the one kept in cache (a dict: recording id -> map) when
 * it still covers the stopped recording, else a new one, kept there when the
 * recording is stopped (its files no longer change). A new reference, or NULL
 * with an exception. */
static RecordingMapObject *recording_map_get(const char *dir, const shoal_recording_descriptor_t *d, PyObject *cache)
{
    PyObject *key = PyLong_FromLongLong(d->recording_id);
    if (NULL == key)
    {
        return NULL;
    }
    RecordingMapObject *m = NULL;
    if (NULL != cache && d->stop_position >= 0)
    {
        m = (RecordingMapObject *)PyDict_GetItemWithError(cache, key);
        if (NULL != m && m->end_position == d->stop_position &&
            m->base_position ==
                shoal_segment_base(d->start_position, d->start_position, d->term_length, d->segment_length))
        {
            Py_INCREF(m);
            Py_DECREF(key);
            return m;
        }
        m = NULL;
        if (PyErr_Occurred())
        {
            Py_DECREF(key);
            return NULL;
        }
    }
    m = recording_map_open(dir, d, d->start_position, d->stop_position);
    if (NULL != m && NULL != cache && d->stop_position >= 0 && m->end_position == d->stop_position &&
        PyDict_SetItem(cache, key, (PyObject *)m) < 0)
    {
        Py_CLEAR(m);
    }
    Py_DECREF(key);
    return m;
}

PyObject *recording_read_records(const char *archive_dir, const shoal_recording_descriptor_t *d, PyObject *dtype,
    PyObject *start, PyObject *stop, PyObject *cache)
{
    Py_ssize_t itemsize;
    PyObject *np_dtype = record_dtype(dtype, "read_records", &itemsize);
    if (NULL == np_dtype)
    {
        return NULL;
    }
    PyObject *numpy = numpy_module(), *result = NULL;
    RecordingMapObject *m = NULL;
    if (itemsize > d->term_length)
    {
        raise_invalid("read_records: the dtype is longer than the recording's term length");
        goto done;
    }
    const int64_t from = d->start_position;
    const int64_t to = d->stop_position;
    if (to >= 0 && to <= from)
    {
        result = PyObject_CallMethod(numpy, "empty", "iO", 0, np_dtype);
        goto done;
    }
    m = recording_map_get(archive_dir, d, cache);
    if (NULL == m)
    {
        goto done;
    }
    if (to >= 0 && m->end_position < to)
    {
        raise_io("recording %lld: its segments end at position %lld, before its stop position %lld",
            (long long)d->recording_id, (long long)m->end_position, (long long)to);
        goto done;
    }
    walk_t w;
    Py_BEGIN_ALLOW_THREADS walk_frames(m, d, from, to, (size_t)itemsize, NULL, 0, 0, &w);
    Py_END_ALLOW_THREADS if (NULL != w.corrupt)
    {
        raise_io("recording %lld: %s at position %lld", (long long)d->recording_id, w.corrupt,
            (long long)w.corrupt_position);
        goto done;
    }
    if (w.bad_position >= 0)
    {
        char text[256];
        snprintf(text, sizeof(text),
            "recording %lld: the message ending at position %lld is %lld bytes, not the dtype's %zd "
            "(use messages() for messages of several sizes)",
            (long long)d->recording_id, (long long)w.bad_position, (long long)w.bad_length, itemsize);
        raise_invalid(text);
        goto done;
    }
    int64_t first, last;
    if (slice_bound(start, w.records, 0, &first) < 0 || slice_bound(stop, w.records, w.records, &last) < 0)
    {
        goto done;
    }
    if (last < first)
    {
        last = first;
    }
    if (w.uniform)
    {
        const int64_t stride =
            (SHOAL_DATA_HEADER_LENGTH + itemsize + SHOAL_FRAME_ALIGNMENT - 1) & ~(int64_t)(SHOAL_FRAME_ALIGNMENT - 1);
        const int64_t offset = from - m->base_position + first * stride + SHOAL_DATA_HEADER_LENGTH;
        /* numpy.ndarray(shape, dtype, buffer, offset, strides): a read-only view whose base is the mapping */
        PyObject *ndarray = PyObject_GetAttrString(numpy, "ndarray");
        if (NULL != ndarray)
        {
            PyObject *kw = Py_BuildValue("{s:(L),s:O,s:O,s:L,s:(L)}", "shape", (long long)(last - first), "dtype",
                np_dtype, "buffer", (PyObject *)m, "offset", (long long)(last > first ? offset : 0), "strides",
                (long long)stride);
            PyObject *args = PyTuple_New(0);
            if (NULL != kw && NULL != args)
            {
                result = PyObject_Call(ndarray, args, kw);
            }
            Py_XDECREF(kw);
            Py_XDECREF(args);
            Py_DECREF(ndarray);
        }
        goto done;
    }
    Py_buffer view;
    result = record_array((Py_ssize_t)(last - first), np_dtype, &view);
    if (NULL == result)
    {
        goto done;
    }
    walk_t copied;
    Py_BEGIN_ALLOW_THREADS walk_frames(m, d, from, w.end, (size_t)itemsize, view.buf, first, last, &copied);
    Py_END_ALLOW_THREADS PyBuffer_Release(&view);
done:
    Py_XDECREF((PyObject *)m);
    Py_DECREF(np_dtype);
    return result;
}
