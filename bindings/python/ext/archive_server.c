/*
 * shoal.ArchiveServer(ctx, archive_dir): shoal_archive_server_start on the
 * context's driver directory (a driver must run there: shoal.Driver or
 * shoald). Its settings are the context's (archive_segment_length,
 * archive_fsync, archive_control_stream_id, ...; SHOAL_ARCHIVE_*). It is one
 * of the context's users, as a Driver is; close() stops every recording (each
 * gets its stop position) and the server's thread.
 */
#include "archive_server.h"

#include "context.h"
#include "errors.h"

#include "shoal/shoal_archive.h"

typedef ServiceObject ArchiveServerObject; /* dir: the archive directory */

/* The server runs its own client's duty on its thread, whether or not a
 * Client(ctx, invoker=True) left the context in conductor-invoker mode. */
static void *archive_server_start(shoal_context_t *ctx, void *arg)
{
    shoal_archive_server_t *srv = NULL;
    return shoal_archive_server_start(&srv, ctx, arg) < 0 ? NULL : srv;
}

static int archive_server_stop(void *srv)
{
    return shoal_archive_server_close(srv);
}

static int ArchiveServer_init(ArchiveServerObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "ctx", "archive_dir", NULL };
    PyObject *ctx, *bytes = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO&:ArchiveServer", kwlist, &ctx, PyUnicode_FSConverter, &bytes))
    {
        return -1;
    }
    int rc =
        service_open(self, ctx, "ArchiveServer", archive_server_start, PyBytes_AS_STRING(bytes), archive_server_stop);
    if (rc == 0)
    {
        self->dir = PyUnicode_DecodeFSDefault(PyBytes_AS_STRING(bytes));
    }
    Py_DECREF(bytes);
    return rc < 0 || NULL == self->dir ? -1 : 0;
}

static PyObject *ArchiveServer_get_dir(ArchiveServerObject *self, void *closure)
{
    (void)closure;
    if (NULL == self->dir)
    {
        Py_RETURN_NONE;
    }
    Py_INCREF(self->dir);
    return self->dir;
}

static PyObject *ArchiveServer_repr(ArchiveServerObject *self)
{
    return handle_is_open(&self->h) ? PyUnicode_FromFormat("<shoal.ArchiveServer archive_dir=%R>", self->dir)
                                    : handle_repr_closed(&self->h);
}

static PyMethodDef ArchiveServer_methods[] = {
    HANDLE_METHODS("close($self, /)\n--\n\nStops the recordings (each gets its stop position), the replays and the "
                   "server's thread (idempotent)."),
    { NULL } /* sentinel */
};

static PyGetSetDef ArchiveServer_getset[] = {
    { "archive_dir", (getter)ArchiveServer_get_dir, NULL, "The archive directory.", NULL },
    HANDLE_GETSET_CLOSED("True once closed."), { NULL } /* sentinel */
};

HandleType ArchiveServerType = {
    HANDLE_TYPE(ArchiveServer, service_dealloc, service_release,
        "ArchiveServer(ctx, archive_dir)\n--\n\n"
        "An archive server on its own thread (shoal_archive_server_start): records what shoal.Archive "
        "clients ask for into archive_dir (created if missing; what a crash left is recovered) and answers "
        "them on the context's archive control streams. A driver must run on the context's directory. "
        "A context manager."),
    HANDLE_CONSTRUCTED(ArchiveServer),
    .type.tp_repr = (reprfunc)ArchiveServer_repr,
};
