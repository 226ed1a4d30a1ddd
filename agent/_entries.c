/*
 * auditlog.agent._entries: the per-event work on a batch of bulk entries, one C call per batch.
 *
 * Two jobs, each with its Python reference and fallback beside the caller:
 * - hashes(entries): SHA-256 of each entry's document, for the digests. agent/digest.py's entry_hashes_py
 *   cuts the document out (entry[entry.index(b"\n") + 1:-1]) and hashes the copy with hashlib; this hashes
 *   the entry's own bytes with one reused OpenSSL digest context (the library CPython's hashlib uses).
 * - sent(entries, lines): what the id record stores before a batch goes out. agent/idrecord.py's sent_py
 *   joins each entry's JSON _id (entry_id) with newlines and packs each original line's CRC-32 (zlib, as
 *   zlib.crc32) and length as native unsigned ints (array("I")); this does the same in one pass, the CRC-32s
 *   by carry-less multiplication where the processor has it (line_crc: the same values, a fraction of the time).
 * - seen(...): the id record's table of the ids sent lately (agent/idrecord.py IdTable, reference seen_py): a
 *   second event under an id already sent with other content is found before it goes out, also when it
 *   routes to another daily index (where Elasticsearch would store it beside the first, no 409).
 * hashes and sent read the entries without the GIL, so the agent's other threads go on meanwhile
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

/* ---- CRC-32 (zlib's polynomial, zlib's values) by carry-less multiplication ---------------------------------
 * zlib 1.2.13's crc32 takes about 0.35 us of an 850-byte line here, most of what the id record's checksums cost.
 * On x86-64 processors with PCLMULQDQ and SSE4.1 the line's 16-byte blocks are folded with carry-less products
 * (Gopal et al., "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ Instruction", Intel, 2009): four
 * 128-bit lanes folded 64 bytes at a time, folded into one, reduced to 64 and then, by Barrett's method, to 32
 * bits; the last 0-15 bytes and lines under 64 bytes go to zlib, which continues from the folded value. The
 * constants are x^k mod P(x) for the reflected polynomial 0x104C11DB7 (bit-reflected, shifted left one bit):
 * k1 = x^(4*128+32), k2 = x^(4*128-32), k3 = x^(128+32), k4 = x^(128-32), k5 = x^64, and Barrett's P' and u.
 * tests/agent/test_entries.py holds it equal to zlib.crc32 at every length around the block sizes. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define FOLD_CRC 1

__attribute__((target("pclmul,sse4.1"))) static __m128i
fold16(__m128i acc, __m128i k, __m128i next)
{
    /* acc's low half times k's low, its high half times k's high: acc moved 128 bits on, added to next */
    __m128i lo = _mm_clmulepi64_si128(acc, k, 0x00), hi = _mm_clmulepi64_si128(acc, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/* The CRC register (not inverted) after the first len bytes of buf; len >= 64 and a multiple of 16. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t
fold_crc(uint32_t reg, const unsigned char *buf, size_t len)
{
    const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL);
    const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL);
    const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124LL);
    const __m128i barrett = _mm_set_epi64x(0x1f7011641LL, 0x1db710641LL); /* u (high), P' (low) */
    const __m128i low32s = _mm_setr_epi32(-1, 0, -1, 0);
    __m128i a = _mm_xor_si128(_mm_loadu_si128((const __m128i *)buf), _mm_cvtsi32_si128((int)reg));
    __m128i b = _mm_loadu_si128((const __m128i *)(buf + 16));
    __m128i c = _mm_loadu_si128((const __m128i *)(buf + 32));
    __m128i d = _mm_loadu_si128((const __m128i *)(buf + 48));
    buf += 64;
    len -= 64;
    for (; len >= 64; buf += 64, len -= 64) {
        a = fold16(a, k1k2, _mm_loadu_si128((const __m128i *)buf));
        b = fold16(b, k1k2, _mm_loadu_si128((const __m128i *)(buf + 16)));
        c = fold16(c, k1k2, _mm_loadu_si128((const __m128i *)(buf + 32)));
        d = fold16(d, k1k2, _mm_loadu_si128((const __m128i *)(buf + 48)));
    }
    a = fold16(a, k3k4, b);
    a = fold16(a, k3k4, c);
    a = fold16(a, k3k4, d);
    for (; len >= 16; buf += 16, len -= 16)
        a = fold16(a, k3k4, _mm_loadu_si128((const __m128i *)buf));
    /* 128 -> 64 bits: the low half times k4 added to the high half; then its low 32 bits times k5 */
    a = _mm_xor_si128(_mm_srli_si128(a, 8), _mm_clmulepi64_si128(a, k3k4, 0x10));
    a = _mm_xor_si128(_mm_srli_si128(a, 4), _mm_clmulepi64_si128(_mm_and_si128(a, low32s), k5, 0x00));
    /* Barrett: q = (a mod x^32) * u mod x^32; the remainder is a + q * P' */
    __m128i q = _mm_and_si128(_mm_clmulepi64_si128(_mm_and_si128(a, low32s), barrett, 0x10), low32s);
    a = _mm_xor_si128(a, _mm_clmulepi64_si128(q, barrett, 0x00));
    return (uint32_t)_mm_extract_epi32(a, 1);
}

static int fold_ok; /* the processor has both: set at import */
#endif

/* zlib.crc32(line): folded where the processor can, with zlib for what is left */
static uint32_t
line_crc(const unsigned char *buf, size_t len)
{
    uint32_t crc = 0;
#ifdef FOLD_CRC
    if (fold_ok && len >= 64) {
        size_t blocks = len & ~(size_t)15;
        crc = ~fold_crc(~(uint32_t)0, buf, blocks);
        buf += blocks;
        len -= blocks;
    }
#endif
    return (uint32_t)crc32(crc, (const Bytef *)buf, (uInt)len);
}

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
    /* memchr for the first byte and a compare, not memmem: the first '"' that starts '"_id":' is the first
     * occurrence, the first '\n' after two '}' ends the first "}}\n" (memmem's set-up cost more than the search) */
    static const char key[] = "\"_id\":";
    const char *stop = entry + length, *at = entry, *end;
    for (;;) {
        at = memchr(at, '"', (size_t)(stop - at));
        if (at == NULL || stop - at < (Py_ssize_t)sizeof(key) - 1)
            return -1;
        if (memcmp(at, key, sizeof(key) - 1) == 0)
            break;
        at++;
    }
    at += sizeof(key) - 1;
    for (end = at;; end++) {
        end = memchr(end, '\n', (size_t)(stop - end));
        if (end == NULL)
            return -1;
        if (end - at >= 2 && end[-1] == '}' && end[-2] == '}')
            break;
    }
    span->data = (const unsigned char *)at;
    span->size = (size_t)(end - 2 - at);
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
        crcs[i] = line_crc((const unsigned char *)PyBytes_AS_STRING(line), lens[i]);
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

/* ---- the id table: ids sent lately, by fingerprint, with a content check ----------------------------------------
 * One table is an array of 64-bit slots, open addressing with linear probing; a slot holds a 40-bit fingerprint of
 * the id (high bits) and a 24-bit check of the line (its CRC-32 mixed with its length; low bits); 0 is empty. The
 * fingerprint and the slot come from independent mixes of one 64-bit hash of the id's JSON bytes, keyed with a
 * random seed per process (no one can choose ids that pile up in one place). A found fingerprint with another
 * check is a candidate conflict, which the caller confirms against the exact ids (a fingerprint shared by two ids
 * is about one in 2^40 per probe). agent/idrecord.py's seen_py is the same in Python; tests hold them equal. */
#define MIX1 0x9E3779B97F4A7C15ULL
#define MIX2 0xBF58476D1CE4E5B9ULL
#define MIX3 0x94D049BB133111EBULL
#define FP_KEY 0x5851F42D4C957F2DULL

static uint64_t
finish64(uint64_t z)
{
    z = (z ^ (z >> 30)) * MIX2;
    z = (z ^ (z >> 27)) * MIX3;
    return z ^ (z >> 31);
}

static uint64_t
id_hash(const unsigned char *s, size_t n, uint64_t seed)
{
    uint64_t h = seed ^ ((uint64_t)n * MIX1);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * MIX2;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        for (size_t i = 0; i < n; i++)
            w |= (uint64_t)s[i] << (8 * i);
        h = (h ^ w) * MIX2;
        h ^= h >> 31;
    }
    return finish64(h);
}

/* The slot of fingerprint fp, or of the empty slot where it would go; -1 when the table is full without it. */
static Py_ssize_t
probe(const uint64_t *table, Py_ssize_t slots, uint64_t h, uint64_t fp)
{
    Py_ssize_t at = (Py_ssize_t)(((h & 0xFFFFFFFFULL) * (uint64_t)slots) >> 32);
    for (Py_ssize_t n = 0; n < slots; n++) {
        uint64_t v = table[at];
        if (v == 0 || (v >> 24) == fp)
            return at;
        if (++at == slots)
            at = 0;
    }
    return -1;
}

PyDoc_STRVAR(seen_doc,
"seen(current, previous, ids, crcs, lens, start, fill, limit, seed, /)\n--\n\n"
"Look the ids (newline-joined, as sent() gives them) from position start up in the tables current and previous\n"
"(writable buffers of 64-bit slots; previous may be None) and add the new ones to current until it holds limit.\n"
"Returns (the position it stopped at, current's new fill, the positions whose id was found with another check).");

static PyObject *
seen(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "seen() takes 9 arguments");
        return NULL;
    }
    Py_buffer cur, prev, ids, crcs, lens;
    memset(&prev, 0, sizeof(prev));
    if (PyObject_GetBuffer(args[0], &cur, PyBUF_WRITABLE) < 0)
        return NULL;
    PyObject *result = NULL, *found = NULL;
    uint64_t *hashed = NULL;
    int have_prev = 0, have_ids = 0, have_crcs = 0, have_lens = 0;
    if (args[1] != Py_None) {
        if (PyObject_GetBuffer(args[1], &prev, PyBUF_SIMPLE) < 0)
            goto done;
        have_prev = 1;
    }
    if (PyObject_GetBuffer(args[2], &ids, PyBUF_SIMPLE) < 0)
        goto done;
    have_ids = 1;
    if (PyObject_GetBuffer(args[3], &crcs, PyBUF_SIMPLE) < 0)
        goto done;
    have_crcs = 1;
    if (PyObject_GetBuffer(args[4], &lens, PyBUF_SIMPLE) < 0)
        goto done;
    have_lens = 1;
    Py_ssize_t start = PyLong_AsSsize_t(args[5]), fill = PyLong_AsSsize_t(args[6]), limit = PyLong_AsSsize_t(args[7]);
    uint64_t seed = PyLong_AsUnsignedLongLongMask(args[8]);
    if (PyErr_Occurred())
        goto done;
    Py_ssize_t count = crcs.len / 4, slots = cur.len / 8, prev_slots = have_prev ? prev.len / 8 : 0;
    if (crcs.len % 4 || lens.len != crcs.len || cur.len % 8 || (have_prev && prev.len % 8) || slots < 1 ||
        start < 0 || start > count || fill < 0 || limit < 1 || limit >= slots) {
        PyErr_SetString(PyExc_ValueError, "seen(): tables, checks or bounds that do not fit");
        goto done;
    }
    found = PyList_New(0);
    if (found == NULL)
        goto done;
    uint64_t *table = cur.buf;
    const uint64_t *old = have_prev ? prev.buf : NULL;
    const unsigned char *at = ids.buf, *stop = at + ids.len;
    const uint32_t *crc = crcs.buf, *len = lens.buf;
    /* first every id's hash, its slots prefetched (a table of a million ids is far larger than the caches: the
     * lookups of a batch then overlap their waits instead of taking one after the other) */
    hashed = PyMem_Malloc(sizeof(uint64_t) * (size_t)(count > start ? count - start : 1));
    if (hashed == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t i = 0, have = 0;
    for (; i < count; i++) { /* the ids are newline-joined: walk to position i, then on */
        const unsigned char *nl = memchr(at, '\n', (size_t)(stop - at));
        const unsigned char *end = nl ? nl : stop;
        if (i >= start) {
            uint64_t h = id_hash(at, (size_t)(end - at), seed);
            hashed[have++] = h;
            __builtin_prefetch(&table[((h & 0xFFFFFFFFULL) * (uint64_t)slots) >> 32], 0, 1);
            if (old != NULL)
                __builtin_prefetch(&old[((h & 0xFFFFFFFFULL) * (uint64_t)prev_slots) >> 32], 0, 1);
        }
        if (nl == NULL) {
            i++;
            break;
        }
        at = nl + 1;
    }
    if (i < count) {
        PyErr_SetString(PyExc_ValueError, "seen(): fewer ids than checks");
        goto done;
    }
    for (i = start; i < count; i++) {
        if (fill >= limit)
            break;
        uint64_t h = hashed[i - start];
        uint64_t fp = finish64(h ^ FP_KEY) >> 24;
        if (fp == 0)
            fp = 1;
        uint64_t check = ((uint64_t)crc[i] ^ ((uint64_t)len[i] * 0x9E3779B1ULL)) & 0xFFFFFFULL;
        Py_ssize_t slot = probe(table, slots, h, fp);
        uint64_t held = slot >= 0 ? table[slot] : 0, kept = held;
        if (held == 0 && old != NULL) { /* known to the older table: carried into the current one, so an id
                                          * sent again lately stays known with the check it was first sent with */
            Py_ssize_t o = probe(old, prev_slots, h, fp);
            held = o >= 0 ? old[o] : 0;
        }
        if (held != 0 && (held & 0xFFFFFFULL) != check) {
            PyObject *n = PyLong_FromSsize_t(i);
            if (n == NULL || PyList_Append(found, n) < 0) {
                Py_XDECREF(n);
                goto done;
            }
            Py_DECREF(n);
        }
        if (kept == 0 && slot >= 0) {
            table[slot] = held != 0 ? held : (fp << 24) | check;
            fill++;
        }
    }
    result = Py_BuildValue("(nnO)", i, fill, found);
done:
    Py_XDECREF(found);
    PyMem_Free(hashed);
    PyBuffer_Release(&cur);
    if (have_prev)
        PyBuffer_Release(&prev);
    if (have_ids)
        PyBuffer_Release(&ids);
    if (have_crcs)
        PyBuffer_Release(&crcs);
    if (have_lens)
        PyBuffer_Release(&lens);
    return result;
}

static PyMethodDef methods[] = {
    {"hashes", hashes, METH_O, hashes_doc},
    {"sent", (PyCFunction)(void (*)(void))sent, METH_FASTCALL, sent_doc},
    {"seen", (PyCFunction)(void (*)(void))seen, METH_FASTCALL, seen_doc},
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
#ifdef FOLD_CRC
    __builtin_cpu_init();
    fold_ok = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#endif
    return PyModule_Create(&module);
}
