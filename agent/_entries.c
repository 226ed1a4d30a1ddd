/*
 * auditlog.agent._entries: the per-event work on a batch of bulk entries, one C call per batch.
 *
 * Two jobs, each with its Python reference and fallback beside the caller:
 * - hashes(entries): SHA-256 of each entry's document, for the digests. agent/digest.py's entry_hashes_py
 *   cuts the document out (entry[entry.index(b"\n") + 1:-1]) and hashes the copy with hashlib; this hashes
 *   the entry's own bytes with one reused OpenSSL digest context (the library CPython's hashlib uses).
 * - sent(entries, lines): what the id record stores before a batch goes out. agent/idrecord.py's sent_py
 *   joins each entry's JSON _id (entry_id) with newlines and packs each original line's CRC-32 (zlib, as
 *   zlib.crc32) and length as native unsigned ints (array("I")); this does the same in one pass.
 * Both read the entries without the GIL, so the agent's other threads go on meanwhile
 * (docs/benchmarks.md, section 17). tests/agent/test_entries.py holds each equal to its reference.
 *
 * It links OpenSSL's libcrypto and zlib (both are what CPython's own hashlib and zlib use). The build is
 * optional: without their headers the install goes on and the references do the work.
 *
 * Hostile input: entries are only read within their length; the sequences are copied (with a reference to
 * each item) before the GIL is released, so another thread changing them cannot free what is read.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#define HASH_BYTES 32

_Static_assert(sizeof(unsigned int) == sizeof(uint32_t), "array('I') items are not 32 bits here");

static EVP_MD *sha256; /* fetched once: an implicit fetch per call costs about a tenth of the hash */

typedef struct {
    const unsigned char *data;
    size_t size;
} Span;

/* The document's span in an entry, as entry[entry.index(b"\n") + 1:-1] cuts it; -1 without a '\n'. */
static int
document_span(const char *entry, Py_ssize_t length, Span *span)
{
    const char *nl = memchr(entry, '\n', (size_t)length);
    if (nl == NULL)
        return -1;
    Py_ssize_t start = (nl - entry) + 1, end = length - 1;
    span->data = (const unsigned char *)entry + start;
    span->size = end > start ? (size_t)(end - start) : 0;
    return 0;
}

/* SHA-256 of each span into out (HASH_BYTES each); 0, or -1 when OpenSSL fails. Runs without the GIL. */
static int
hash_spans(const Span *spans, Py_ssize_t count, unsigned char *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return -1;
    int ok = 1;
    for (Py_ssize_t i = 0; ok && i < count; i++) {
        unsigned int size = 0;
        ok = EVP_DigestInit_ex(ctx, sha256, NULL) && EVP_DigestUpdate(ctx, spans[i].data, spans[i].size)
             && EVP_DigestFinal_ex(ctx, out + i * HASH_BYTES, &size) && size == HASH_BYTES;
    }
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* The items of a sequence of bytes, each with a reference held, so they can be read without the GIL. */
typedef struct {
    PyObject *seq;
    Py_ssize_t count, taken;
    PyObject **items;
} Held;

/* Hold every item of arg (each must be bytes); 0, or -1 with an exception set. release() in both cases. */
static int
hold(Held *held, PyObject *arg, const char *what)
{
    memset(held, 0, sizeof(*held));
    held->seq = PySequence_Fast(arg, what);
    if (held->seq == NULL)
        return -1;
    held->count = PySequence_Fast_GET_SIZE(held->seq);
    held->items = PyMem_Malloc(sizeof(PyObject *) * (size_t)(held->count ? held->count : 1));
    if (held->items == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject **items = PySequence_Fast_ITEMS(held->seq);
    for (; held->taken < held->count; held->taken++) {
        PyObject *item = items[held->taken];
        if (!PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError, "%s must hold bytes, not %.80s", what, Py_TYPE(item)->tp_name);
            return -1;
        }
        Py_INCREF(item);
        held->items[held->taken] = item;
    }
    return 0;
}

static void
release(Held *held)
{
    for (Py_ssize_t i = 0; i < held->taken; i++)
        Py_DECREF(held->items[i]);
    PyMem_Free(held->items);
    Py_XDECREF(held->seq);
}

PyDoc_STRVAR(hashes_doc,
"hashes(entries, /)\n--\n\n"
"SHA-256 of each bulk entry's document (the bytes between the first newline and the last byte), as a list\n"
"of 32-byte digests. Raises TypeError when an entry is not bytes, ValueError when it has no newline.");

static PyObject *
hashes(PyObject *self, PyObject *arg)
{
    Held entries;
    Span *spans = NULL;
    unsigned char *out = NULL;
    PyObject *result = NULL;
    if (hold(&entries, arg, "entries") < 0)
        goto done;
    Py_ssize_t count = entries.count;
    spans = PyMem_Malloc(sizeof(Span) * (size_t)(count ? count : 1));
    out = PyMem_Malloc((size_t)HASH_BYTES * (size_t)(count ? count : 1));
    if (spans == NULL || out == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *entry = entries.items[i];
        if (document_span(PyBytes_AS_STRING(entry), PyBytes_GET_SIZE(entry), &spans[i]) < 0) {
            PyErr_SetString(PyExc_ValueError, "a bulk entry has no action line (no newline)");
            goto done;
        }
    }
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = hash_spans(spans, count, out);
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL could not compute a SHA-256");
        goto done;
    }
    result = PyList_New(count);
    if (result == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *digest = PyBytes_FromStringAndSize((const char *)out + i * HASH_BYTES, HASH_BYTES);
        if (digest == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, i, digest);
    }
done:
    release(&entries);
    PyMem_Free(spans);
    PyMem_Free(out);
    return result;
}

/* The JSON _id of an entry as idrecord.entry_id cuts it: after the first '"_id":', up to the next "}}\n". */
static int
id_span(const char *entry, Py_ssize_t length, Span *span)
{
    static const char key[] = "\"_id\":", close[] = "}}\n";
    const char *at = memmem(entry, (size_t)length, key, sizeof(key) - 1);
    if (at == NULL)
        return -1;
    at += sizeof(key) - 1;
    const char *end = memmem(at, (size_t)(entry + length - at), close, sizeof(close) - 1);
    if (end == NULL)
        return -1;
    span->data = (const unsigned char *)at;
    span->size = (size_t)(end - at);
    return 0;
}

PyDoc_STRVAR(sent_doc,
"sent(entries, lines, /)\n--\n\n"
"What the id record stores for a batch: (the entries' JSON _ids joined by newlines, each line's CRC-32 and\n"
"each line's length as native unsigned ints). Raises TypeError when an item is not bytes, ValueError when\n"
"the counts differ or an entry has no _id, OverflowError for a line of 4 GiB or more.");

static PyObject *
sent(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Held entries, lines;
    memset(&lines, 0, sizeof(lines));
    Span *ids = NULL;
    uint32_t *crcs = NULL, *lens = NULL;
    PyObject *joined = NULL, *result = NULL;
    if (nargs != 2) {
        memset(&entries, 0, sizeof(entries));
        PyErr_SetString(PyExc_TypeError, "sent() takes entries and lines");
        goto done;
    }
    if (hold(&entries, args[0], "entries") < 0 || hold(&lines, args[1], "lines") < 0)
        goto done;
    Py_ssize_t count = entries.count;
    if (lines.count != count) {
        PyErr_SetString(PyExc_ValueError, "one line per entry");
        goto done;
    }
    ids = PyMem_Malloc(sizeof(Span) * (size_t)(count ? count : 1));
    crcs = PyMem_Malloc(sizeof(uint32_t) * (size_t)(count ? count : 1));
    lens = PyMem_Malloc(sizeof(uint32_t) * (size_t)(count ? count : 1));
    if (ids == NULL || crcs == NULL || lens == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++)
        if ((uint64_t)PyBytes_GET_SIZE(lines.items[i]) > UINT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "a line is 4 GiB or longer");
            goto done;
        }
    Py_ssize_t missing = -1;
    size_t size = count ? (size_t)(count - 1) : 0; /* the separators */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *entry = entries.items[i], *line = lines.items[i];
        if (missing < 0 && id_span(PyBytes_AS_STRING(entry), PyBytes_GET_SIZE(entry), &ids[i]) < 0)
            missing = i;
        if (missing < 0)
            size += ids[i].size;
        lens[i] = (uint32_t)PyBytes_GET_SIZE(line);
        crcs[i] = (uint32_t)crc32(0L, (const Bytef *)PyBytes_AS_STRING(line), (uInt)lens[i]);
    }
    Py_END_ALLOW_THREADS
    if (missing >= 0) {
        PyErr_SetString(PyExc_ValueError, "a bulk entry has no _id");
        goto done;
    }
    joined = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (joined == NULL)
        goto done;
    char *to = PyBytes_AS_STRING(joined);
    for (Py_ssize_t i = 0; i < count; i++) {
        if (i)
            *to++ = '\n';
        memcpy(to, ids[i].data, ids[i].size);
        to += ids[i].size;
    }
    result = Py_BuildValue("(Oy#y#)", joined, (const char *)crcs, (Py_ssize_t)(sizeof(uint32_t) * (size_t)count),
                           (const char *)lens, (Py_ssize_t)(sizeof(uint32_t) * (size_t)count));
done:
    release(&entries);
    release(&lines);
    PyMem_Free(ids);
    PyMem_Free(crcs);
    PyMem_Free(lens);
    Py_XDECREF(joined);
    return result;
}

static PyMethodDef methods[] = {
    {"hashes", hashes, METH_O, hashes_doc},
    {"sent", (PyCFunction)(void (*)(void))sent, METH_FASTCALL, sent_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "auditlog.agent._entries",
    .m_doc = "The per-event work on a batch of bulk entries in one C call (see agent/digest.py, agent/idrecord.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__entries(void)
{
    if (sha256 == NULL && (sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
        PyErr_SetString(PyExc_ImportError, "OpenSSL has no SHA256");
        return NULL;
    }
    return PyModule_Create(&module);
}
