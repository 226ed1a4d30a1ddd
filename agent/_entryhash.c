/*
 * auditlog.agent._entryhash: SHA-256 of each bulk entry's document, for a whole batch in one call.
 *
 * agent/digest.py's entry_hashes is the reference and the fallback: for each entry (an action line,
 * '\n', the document, '\n') it cuts the document out (entry[entry.index(b"\n") + 1:-1]) and hashes the
 * copy with hashlib. This does the same over the entry's own bytes: no copy of the document, one
 * reused OpenSSL digest context instead of a hashlib object per event, and the hashing runs without
 * the GIL, so the agent's reader thread goes on while the acknowledger hashes a batch
 * (docs/benchmarks.md, section 17). tests/agent/test_entryhash.py holds it equal to the reference.
 *
 * It links OpenSSL's libcrypto (the library CPython's own hashlib uses). The build is optional: without
 * the headers the install goes on and the reference does the work.
 *
 * Hostile input: entries are only read within their length; the list is copied (with a reference to
 * each entry) before the GIL is released, so another thread changing the list cannot free what is read.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/evp.h>
#include <string.h>

#define HASH_BYTES 32

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

PyDoc_STRVAR(documents_doc,
"documents(entries, /)\n--\n\n"
"SHA-256 of each bulk entry's document (the bytes between the first newline and the last byte), as a list\n"
"of 32-byte digests. Raises TypeError when an entry is not bytes, ValueError when it has no newline.");

static PyObject *
documents(PyObject *self, PyObject *arg)
{
    PyObject *seq = PySequence_Fast(arg, "entries must be a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject **held = PyMem_Malloc(sizeof(PyObject *) * (size_t)(count ? count : 1));
    Span *spans = PyMem_Malloc(sizeof(Span) * (size_t)(count ? count : 1));
    unsigned char *out = PyMem_Malloc((size_t)HASH_BYTES * (size_t)(count ? count : 1));
    PyObject *result = NULL;
    Py_ssize_t taken = 0;
    if (held == NULL || spans == NULL || out == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (; taken < count; taken++) {
        PyObject *entry = items[taken];
        if (!PyBytes_Check(entry)) {
            PyErr_Format(PyExc_TypeError, "a bulk entry must be bytes, not %.80s", Py_TYPE(entry)->tp_name);
            goto done;
        }
        if (document_span(PyBytes_AS_STRING(entry), PyBytes_GET_SIZE(entry), &spans[taken]) < 0) {
            PyErr_SetString(PyExc_ValueError, "a bulk entry has no action line (no newline)");
            goto done;
        }
        Py_INCREF(entry);
        held[taken] = entry;
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
    for (Py_ssize_t i = 0; i < taken; i++)
        Py_DECREF(held[i]);
    PyMem_Free(held);
    PyMem_Free(spans);
    PyMem_Free(out);
    Py_DECREF(seq);
    return result;
}

static PyMethodDef methods[] = {
    {"documents", documents, METH_O, documents_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "auditlog.agent._entryhash",
    .m_doc = "SHA-256 of bulk entries' documents in one call (agent/digest.py's entry_hashes is the reference).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__entryhash(void)
{
    if (sha256 == NULL && (sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
        PyErr_SetString(PyExc_ImportError, "OpenSSL has no SHA256");
        return NULL;
    }
    return PyModule_Create(&module);
}
