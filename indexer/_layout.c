/*
 * auditlog.indexer._layout: the digest seal's bookkeeping over columns, in C.
 *
 * Each job has its Python reference and fallback in indexer/integrity.py:
 * - window(at, lo, hi, streams, seqs, hashes, times): what one digest window lists, in the order it lists it
 *   (window_layout_py, built on by_stream): per stream, by name, its numbers ascending (the first event
 *   under each number) as the first number and the gaps to the next; the column positions of every other
 *   event in window order; the full hashes of all of them end to end in that order; the smallest and the
 *   largest timestamp.
 * - ranges(streams, seqs): per stream the [first, last] ranges of its numbers (stream_ranges_py).
 * - seal(parts, step): every window of a seal as the digest writer cuts them (per events index by name,
 *   step events at a time) and the streams' ranges, read in one pass over the seal's column parts
 *   (seal_layout_py). One pass matters: a call per window reads the events' objects index by index, and
 *   at a seal's 50,000 events those reads miss the CPU's caches (docs/benchmarks.md, section 18).
 * The digest format itself (base64, MessagePack, short hashes, root) stays in Python: this only lays out.
 *
 * Exact input only: anything it does not read exactly (a list that is not a list, a stream that is not a
 * str, a number beyond +-(2**62 - 1) or a bool, a hash that is not 32 bytes, a timestamp that is not a str, a
 * position out of range or negative) makes it return None, and the Python reference does the work (and
 * raises what it raises). tests/indexer/test_layout.py holds each equal to its reference, also under
 * AddressSanitizer.
 *
 * No Python code runs while the inputs are read: exact str keys are hashed and compared by CPython's own
 * code, and every container the garbage collector tracks (whose allocation may collect, and so run a
 * finaliser that changes the lists) is allocated before the first item is read. Hashes are copied out
 * while they are read, and every timestamp and name the answer holds is referenced before the answer is
 * built; building it uses nothing borrowed from the inputs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HASH_BYTES 32
#define NUMBER_LIMIT ((1LL << 62) - 1) /* numbers within +-(2**62 - 1): any gap between two fits a long long */
#define COLUMNS 6                /* a Columns tuple: indices, ids, hashes, times, streams, seqs */
enum { INDICES = 0, HASHES = 2, TIMES = 3, STREAMS = 4, SEQS = 5 };

static void *
cells(size_t count, size_t size)
{
    return PyMem_Calloc(count ? count : 1, size);
}

_Static_assert(sizeof(long long) == sizeof(Py_ssize_t), "a long long is not a Py_ssize_t here");

/* An exact int into *out: 1; 0 when it is not an exact int. *overflow: -1 or 1 when it does not fit (then
 * *out is the nearest bound), else 0. Raises nothing. */
static int
exact_size(PyObject *number, Py_ssize_t *out, int *overflow)
{
    *overflow = 0;
    if (!PyLong_CheckExact(number))
        return 0;
    long long value = PyLong_AsLongLongAndOverflow(number, overflow);
    *out = *overflow > 0 ? PY_SSIZE_T_MAX : *overflow < 0 ? PY_SSIZE_T_MIN : (Py_ssize_t)value;
    return 1;
}

/* ---- the events index of each event ------------------------------------------------------------------ */

/* Each key's group number (order of first appearance) into gid and each new key, in that order, appended
 * to names (a list). seen: an empty dict the caller made before reading anything. 1: done; 0: a key is not
 * an exact str; -1: an exception is set. Allocates nothing the collector tracks. */
static int
number_keys(PyObject *const *items, Py_ssize_t count, Py_ssize_t *gid, PyObject *seen, PyObject *names)
{
    PyObject *last = NULL;
    Py_ssize_t last_gid = -1;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *key = items[i];
        if (key != last) { /* usually the same object as the previous key */
            if (!PyUnicode_CheckExact(key))
                return 0;
            PyObject *number = PyDict_GetItemWithError(seen, key);
            if (number == NULL) {
                if (PyErr_Occurred())
                    return -1;
                number = PyLong_FromSsize_t(PyDict_GET_SIZE(seen)); /* a PyLong: not tracked */
                if (number == NULL || PyDict_SetItem(seen, key, number) < 0 || PyList_Append(names, key) < 0) {
                    Py_XDECREF(number);
                    return -1;
                }
                Py_DECREF(number);
            }
            last = key;
            last_gid = PyLong_AsSsize_t(number);
        }
        gid[i] = last_gid;
    }
    return 1;
}

/* ---- windows -------------------------------------------------------------------------------------- */

/* The columns' items (borrowed), all length long; hashes and times are read only when asked for (an empty
 * list's items are NULL too). */
typedef struct {
    Py_ssize_t length;
    PyObject *const *streams, *const *seqs, *const *hashes, *const *times;
    int with_hashes, with_times;
} Cols;

/* The events to lay out, in reading order: event e is column position pos[e] in window win[e]. Within a
 * window, reading order is the window's own order, however windows are interleaved. */
typedef struct {
    Py_ssize_t events, windows;
    Py_ssize_t *pos, *win;
} Plan;

/* Room for events planned events; 0, or -1 with MemoryError set. plan_free in both cases. */
static int
plan_alloc(Plan *plan, Py_ssize_t events)
{
    plan->events = events;
    plan->pos = cells((size_t)events, sizeof(Py_ssize_t));
    plan->win = cells((size_t)events, sizeof(Py_ssize_t));
    if (plan->pos == NULL || plan->win == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void
plan_free(Plan *plan)
{
    PyMem_Free(plan->pos);
    PyMem_Free(plan->win);
}

/* What is read of each event: its stream (-1: not numbered) and number; per window its time span. */
typedef struct {
    Py_ssize_t *stream;
    long long *number;
    unsigned char *hashes; /* HASH_BYTES per event, in reading order (NULL: no hashes asked for) */
    PyObject **low, **high; /* per window, borrowed until referenced (NULL: no times, or an empty window) */
    PyObject *names;        /* dict: stream -> its number (order of first appearance); holds the names */
} Read;

typedef struct {
    Py_ssize_t rank; /* the stream's place by name */
    long long number;
    Py_ssize_t slot; /* the event's place in its window: ties keep window order */
} Numbered;

static int
by_stream_number_slot(const void *a, const void *b)
{
    const Numbered *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->number != y->number)
        return x->number < y->number ? -1 : 1;
    return x->slot < y->slot ? -1 : (x->slot > y->slot);
}

typedef struct {
    PyObject *name;
    Py_ssize_t id;
} Named;

static int
by_name(const void *a, const void *b)
{
    /* exact str on both sides: CPython compares code points, as sorted() does, and cannot fail */
    return PyUnicode_Compare(((const Named *)a)->name, ((const Named *)b)->name);
}

/* Read the columns for every planned event. 1: read; 0: something is not read exactly (Python does it);
 * -1: an exception is set. Allocates nothing the collector tracks. */
static int
read_columns(const Plan *plan, const Cols *cols, Read *read)
{
    PyObject *last_name = NULL;
    Py_ssize_t last_stream = -1;
    for (Py_ssize_t e = 0; e < plan->events; e++) {
        Py_ssize_t p = plan->pos[e], w = plan->win[e];
        if (p < 0 || p >= cols->length)
            return 0;
        if (cols->with_hashes) {
            PyObject *h = cols->hashes[p];
            if (!PyBytes_CheckExact(h) || PyBytes_GET_SIZE(h) != HASH_BYTES)
                return 0;
            memcpy(read->hashes + e * HASH_BYTES, PyBytes_AS_STRING(h), HASH_BYTES);
        }
        if (cols->with_times) {
            PyObject *t = cols->times[p], *low = read->low[w], *high = read->high[w];
            if (!PyUnicode_CheckExact(t))
                return 0;
            if (low == NULL)
                read->low[w] = read->high[w] = t;
            else if (t != low && t != high) {
                if (PyUnicode_Compare(t, low) < 0)
                    read->low[w] = t;
                else if (PyUnicode_Compare(t, high) > 0)
                    read->high[w] = t;
            }
        }
        PyObject *name = cols->streams[p], *number = cols->seqs[p];
        /* also beside a None: Python hashes every stream and compares every number with None */
        if ((name != Py_None && !PyUnicode_CheckExact(name)) || (number != Py_None && !PyLong_CheckExact(number)))
            return 0;
        if (name == Py_None || number == Py_None) {
            read->stream[e] = -1;
            continue;
        }
        int overflow = 0;
        read->number[e] = PyLong_AsLongLongAndOverflow(number, &overflow);
        if (overflow || read->number[e] > NUMBER_LIMIT || read->number[e] < -NUMBER_LIMIT)
            return 0;
        if (name != last_name) {
            PyObject *found = PyDict_GetItemWithError(read->names, name);
            if (found == NULL) {
                if (PyErr_Occurred())
                    return -1;
                found = PyLong_FromSsize_t(PyDict_GET_SIZE(read->names)); /* a PyLong: not tracked */
                if (found == NULL || PyDict_SetItem(read->names, name, found) < 0) {
                    Py_XDECREF(found);
                    return -1;
                }
                Py_DECREF(found);
            }
            last_name = name;
            last_stream = PyLong_AsSsize_t(found);
        }
        read->stream[e] = last_stream;
    }
    return 1;
}

/* Sort numbered events by (stream rank, number, slot) unless they already are. */
static void
numbered_in_order(Numbered *kept, Py_ssize_t n, int ordered)
{
    if (!ordered)
        qsort(kept, (size_t)n, sizeof(Numbered), by_stream_number_slot);
}

/* One window's listing from C arrays: its numbered events by (stream rank, number), the first under each
 * number kept (kept[0 .. *kept_count)), and every other event's slot in window order (rest). */
static void
list_window(const Read *read, const Py_ssize_t *rank, const Py_ssize_t *members, Py_ssize_t size, Numbered *kept,
            Py_ssize_t *kept_count, Py_ssize_t *rest, Py_ssize_t *rest_count, unsigned char *listed)
{
    Py_ssize_t n = 0;
    int ordered = 1;
    for (Py_ssize_t slot = 0; slot < size; slot++) {
        Py_ssize_t e = members[slot];
        listed[slot] = 0;
        if (read->stream[e] < 0)
            continue;
        kept[n] = (Numbered){rank[read->stream[e]], read->number[e], slot};
        if (n && ordered)
            ordered = kept[n - 1].rank < kept[n].rank
                      || (kept[n - 1].rank == kept[n].rank && kept[n - 1].number < kept[n].number);
        n++;
    }
    numbered_in_order(kept, n, ordered);
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (k && kept[k - 1].rank == kept[i].rank && kept[k - 1].number == kept[i].number)
            continue; /* a later event under a number already listed: listed by id */
        kept[k++] = kept[i];
        listed[kept[i].slot] = 1;
    }
    *kept_count = k;
    Py_ssize_t r = 0;
    for (Py_ssize_t slot = 0; slot < size; slot++)
        if (!listed[slot])
            rest[r++] = slot;
    *rest_count = r;
}

/* Per stream, by name, the inclusive [first, last] ranges of its distinct numbers among every event read:
 * [(stream, [[first, last], ...]), ...]; NULL on error. kept: room for every event. */
static PyObject *
all_ranges(const Plan *plan, const Read *read, const Py_ssize_t *rank, PyObject *const *by_rank, Numbered *kept)
{
    Py_ssize_t n = 0;
    int ordered = 1;
    for (Py_ssize_t e = 0; e < plan->events; e++) {
        if (read->stream[e] < 0)
            continue;
        kept[n] = (Numbered){rank[read->stream[e]], read->number[e], e};
        if (n && ordered)
            ordered = kept[n - 1].rank < kept[n].rank
                      || (kept[n - 1].rank == kept[n].rank && kept[n - 1].number < kept[n].number);
        n++;
    }
    numbered_in_order(kept, n, ordered);
    PyObject *out = PyList_New(0);
    for (Py_ssize_t k = 0; out != NULL && k < n;) {
        PyObject *runs = PyList_New(0), *pair = NULL;
        Py_ssize_t end = k;
        while (runs != NULL && end < n && kept[end].rank == kept[k].rank) {
            long long first = kept[end].number, last = first;
            while (end + 1 < n && kept[end + 1].rank == kept[k].rank && kept[end + 1].number <= last + 1)
                last = kept[++end].number; /* the next number, or a repeat of this one */
            end++;
            PyObject *run = Py_BuildValue("[LL]", first, last);
            if (run == NULL || PyList_Append(runs, run) < 0)
                Py_CLEAR(runs);
            Py_XDECREF(run);
        }
        pair = runs != NULL ? PyTuple_Pack(2, by_rank[kept[k].rank], runs) : NULL;
        Py_XDECREF(runs);
        if (pair == NULL || PyList_Append(out, pair) < 0)
            Py_CLEAR(out);
        Py_XDECREF(pair);
        k = end;
    }
    return out;
}

/* The window's answer (runs, by_id, joined, first, last) from C arrays and held references; NULL on error. */
static PyObject *
window_answer(const Plan *plan, PyObject *const *by_rank, const Py_ssize_t *members, const Numbered *kept,
              Py_ssize_t kept_count, const Py_ssize_t *rest, Py_ssize_t rest_count, PyObject *joined,
              PyObject *first, PyObject *last)
{
    Py_ssize_t streams = 0;
    for (Py_ssize_t k = 0; k < kept_count; k++)
        streams += !k || kept[k - 1].rank != kept[k].rank;
    PyObject *runs = PyList_New(streams), *others = PyList_New(rest_count), *answer = NULL;
    if (runs == NULL || others == NULL)
        goto done;
    for (Py_ssize_t k = 0, s = 0; k < kept_count; s++) {
        Py_ssize_t end = k;
        while (end < kept_count && kept[end].rank == kept[k].rank)
            end++;
        PyObject *gaps = PyList_New(end - k);
        if (gaps == NULL)
            goto done;
        for (Py_ssize_t i = k; i < end; i++) { /* the first number, then the gap to each next one */
            PyObject *n = PyLong_FromLongLong(i == k ? kept[i].number : kept[i].number - kept[i - 1].number);
            if (n == NULL) {
                Py_DECREF(gaps);
                goto done;
            }
            PyList_SET_ITEM(gaps, i - k, n);
        }
        PyObject *pair = PyTuple_Pack(2, by_rank[kept[k].rank], gaps);
        Py_DECREF(gaps);
        if (pair == NULL)
            goto done;
        PyList_SET_ITEM(runs, s, pair);
        k = end;
    }
    for (Py_ssize_t r = 0; r < rest_count; r++) {
        PyObject *p = PyLong_FromSsize_t(plan->pos[members[rest[r]]]);
        if (p == NULL)
            goto done;
        PyList_SET_ITEM(others, r, p);
    }
    answer = PyTuple_Pack(5, runs, others, joined != NULL ? joined : Py_None, first != NULL ? first : Py_None,
                          last != NULL ? last : Py_None);
done:
    Py_XDECREF(runs);
    Py_XDECREF(others);
    return answer;
}

/* Lay out every window of plan over cols: a list of (runs, by_id, joined, first, last) per window; None when
 * something is not read exactly; NULL with an exception set. names: an empty dict made before anything was
 * read. ranges: where to put every stream's ranges over all events read (all_ranges), or NULL. */
static PyObject *
lay_out(const Plan *plan, const Cols *cols, PyObject *names, PyObject **ranges)
{
    Py_ssize_t events = plan->events, windows = plan->windows, streams = 0;
    size_t n = (size_t)events, w_n = (size_t)windows;
    Read read = {.names = names};
    PyObject *result = NULL, **joined = NULL, **firsts = NULL, **lasts = NULL, **by_rank = NULL;
    Py_ssize_t *rank = NULL, *start = NULL, *members = NULL, *rest = NULL;
    Numbered *kept = NULL;
    Named *order = NULL;
    unsigned char *listed = NULL;
    read.stream = cells(n, sizeof(Py_ssize_t));
    read.number = cells(n, sizeof(long long));
    read.hashes = cols->with_hashes ? cells(n, HASH_BYTES) : NULL;
    read.low = cells(w_n, sizeof(PyObject *));
    read.high = cells(w_n, sizeof(PyObject *));
    start = cells(w_n + 1, sizeof(Py_ssize_t));
    members = cells(n, sizeof(Py_ssize_t));
    rest = cells(n, sizeof(Py_ssize_t));
    kept = cells(n, sizeof(Numbered));
    listed = cells(n, 1);
    joined = cells(w_n, sizeof(PyObject *));
    firsts = cells(w_n, sizeof(PyObject *));
    lasts = cells(w_n, sizeof(PyObject *));
    if (read.stream == NULL || read.number == NULL || (cols->with_hashes && read.hashes == NULL)
        || read.low == NULL || read.high == NULL || start == NULL || members == NULL || rest == NULL || kept == NULL
        || listed == NULL || joined == NULL || firsts == NULL || lasts == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int got = read_columns(plan, cols, &read);
    if (got <= 0) {
        if (got == 0)
            result = Py_NewRef(Py_None);
        goto done;
    }
    /* From here on the inputs are not read again: only C arrays and references held. */
    for (Py_ssize_t w = 0; w < windows; w++) {
        firsts[w] = Py_XNewRef(read.low[w]);
        lasts[w] = Py_XNewRef(read.high[w]);
    }
    streams = PyDict_GET_SIZE(names);
    rank = cells((size_t)streams, sizeof(Py_ssize_t));
    order = cells((size_t)streams, sizeof(Named));
    by_rank = cells((size_t)streams, sizeof(PyObject *));
    if (rank == NULL || order == NULL || by_rank == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    {
        Py_ssize_t at = 0, s = 0;
        PyObject *key, *value;
        while (PyDict_Next(names, &at, &key, &value)) { /* keys borrowed: names outlives the answer's making */
            order[s] = (Named){key, s};
            s++;
        }
        if (streams > 1)
            qsort(order, (size_t)streams, sizeof(Named), by_name);
        for (s = 0; s < streams; s++) {
            rank[order[s].id] = s;
            by_rank[s] = order[s].name;
        }
    }
    if (ranges != NULL && (*ranges = all_ranges(plan, &read, rank, by_rank, kept)) == NULL)
        goto done;
    /* each window's events in window order: a counting sort of reading order by window (stable) */
    for (Py_ssize_t e = 0; e < events; e++)
        start[plan->win[e] + 1]++;
    for (Py_ssize_t w = 0; w < windows; w++)
        start[w + 1] += start[w];
    memcpy(rest, start, sizeof(Py_ssize_t) * w_n); /* rest is free until the windows are listed */
    for (Py_ssize_t e = 0; e < events; e++)
        members[rest[plan->win[e]]++] = e;
    result = PyList_New(windows);
    if (result == NULL)
        goto done;
    for (Py_ssize_t w = 0; w < windows; w++) {
        const Py_ssize_t *mine = members + start[w];
        Py_ssize_t size = start[w + 1] - start[w], kept_count = 0, rest_count = 0;
        list_window(&read, rank, mine, size, kept, &kept_count, rest, &rest_count, listed);
        if (read.hashes != NULL) {
            joined[w] = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)HASH_BYTES * size);
            if (joined[w] == NULL) {
                Py_CLEAR(result);
                goto done;
            }
            unsigned char *to = (unsigned char *)PyBytes_AS_STRING(joined[w]);
            for (Py_ssize_t k = 0; k < kept_count; k++, to += HASH_BYTES)
                memcpy(to, read.hashes + mine[kept[k].slot] * HASH_BYTES, HASH_BYTES);
            for (Py_ssize_t r = 0; r < rest_count; r++, to += HASH_BYTES)
                memcpy(to, read.hashes + mine[rest[r]] * HASH_BYTES, HASH_BYTES);
        }
        PyObject *answer = window_answer(plan, by_rank, mine, kept, kept_count, rest, rest_count, joined[w],
                                         firsts[w], lasts[w]);
        if (answer == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, w, answer);
    }
done:
    for (Py_ssize_t w = 0; joined != NULL && firsts != NULL && lasts != NULL && w < windows; w++) {
        Py_XDECREF(joined[w]);
        Py_XDECREF(firsts[w]);
        Py_XDECREF(lasts[w]);
    }
    PyMem_Free(read.stream);
    PyMem_Free(read.number);
    PyMem_Free(read.hashes);
    PyMem_Free(read.low);
    PyMem_Free(read.high);
    PyMem_Free(start);
    PyMem_Free(members);
    PyMem_Free(rest);
    PyMem_Free(kept);
    PyMem_Free(listed);
    PyMem_Free(joined);
    PyMem_Free(firsts);
    PyMem_Free(lasts);
    PyMem_Free(rank);
    PyMem_Free(order);
    PyMem_Free(by_rank);
    return result;
}

/* Cols over lists (hashes and times may be NULL): 1, or 0 when one is not an exact list. Call it after the
 * last allocation the collector tracks: a finaliser may change a list's size and items. */
static int
list_columns(PyObject *streams, PyObject *seqs, PyObject *hashes, PyObject *times, Cols *cols)
{
    if (!PyList_CheckExact(streams) || !PyList_CheckExact(seqs) || (hashes != NULL && !PyList_CheckExact(hashes))
        || (times != NULL && !PyList_CheckExact(times)))
        return 0;
    Py_ssize_t n = PyList_GET_SIZE(streams);
    if (PyList_GET_SIZE(seqs) < n)
        n = PyList_GET_SIZE(seqs);
    if (hashes != NULL && PyList_GET_SIZE(hashes) < n)
        n = PyList_GET_SIZE(hashes);
    if (times != NULL && PyList_GET_SIZE(times) < n)
        n = PyList_GET_SIZE(times);
    *cols = (Cols){n, PySequence_Fast_ITEMS(streams), PySequence_Fast_ITEMS(seqs),
                   hashes != NULL ? PySequence_Fast_ITEMS(hashes) : NULL,
                   times != NULL ? PySequence_Fast_ITEMS(times) : NULL, hashes != NULL, times != NULL};
    return 1;
}

PyDoc_STRVAR(window_doc,
"window(at, lo, hi, streams, seqs, hashes, times, /)\n--\n\n"
"What a digest window lists, in its order: ([(stream, [first number, gap, gap, ...]), ...] by stream name,\n"
"the numbers ascending (the first event under each number), [column position of every other event, in\n"
"window order], the full hashes of all of them end to end (None when hashes is None), the smallest and the\n"
"largest timestamp (None when times is None or the window is empty)). The window is the column positions in\n"
"the list at, or lo .. hi - 1 when at is None. None when an input is not read exactly (see the module).");

static PyObject *
window(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "window() takes at, lo, hi, streams, seqs, hashes, times");
        return NULL;
    }
    PyObject *at = args[0] == Py_None ? NULL : args[0];
    PyObject *hashes = args[5] == Py_None ? NULL : args[5], *times = args[6] == Py_None ? NULL : args[6];
    Py_ssize_t lo = 0, hi = 0;
    int lo_over = 0, hi_over = 0;
    if (!exact_size(args[1], &lo, &lo_over) || !exact_size(args[2], &hi, &hi_over) || lo_over || hi_over
        || (at != NULL && !PyList_CheckExact(at)))
        Py_RETURN_NONE; /* bounds no list can reach: Python raises its IndexError */
    PyObject *names = PyDict_New(), *result = NULL;
    Plan plan = {.windows = 1};
    Cols cols;
    if (names == NULL)
        return NULL;
    if (!list_columns(args[3], args[4], hashes, times, &cols) || (at == NULL && (lo < 0 || hi < lo || hi > cols.length))) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (plan_alloc(&plan, at != NULL ? PyList_GET_SIZE(at) : hi - lo) < 0)
        goto done;
    for (Py_ssize_t slot = 0; slot < plan.events; slot++) {
        Py_ssize_t p = lo + slot;
        if (at != NULL) {
            PyObject *item = PyList_GET_ITEM(at, slot);
            int overflow = 0;
            long long value = PyLong_CheckExact(item) ? PyLong_AsLongLongAndOverflow(item, &overflow) : -1;
            p = overflow || value < 0 || value >= cols.length ? -1 : (Py_ssize_t)value; /* negative: Python's */
        }
        if (p < 0) {
            result = Py_NewRef(Py_None);
            goto done;
        }
        plan.pos[slot] = p;
    }
    PyObject *windows = lay_out(&plan, &cols, names, NULL);
    if (windows == NULL || windows == Py_None) {
        result = windows;
        goto done;
    }
    result = Py_NewRef(PyList_GET_ITEM(windows, 0));
    Py_DECREF(windows);
done:
    Py_DECREF(names);
    plan_free(&plan);
    return result;
}

PyDoc_STRVAR(ranges_doc,
"ranges(streams, seqs, /)\n--\n\n"
"Per stream, by name, the inclusive [first, last] ranges of its distinct numbers among the numbered events\n"
"of the lists streams and seqs: [(stream, [[first, last], ...]), ...]. None when an input is not read exactly.");

static PyObject *
ranges(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "ranges() takes streams and seqs");
        return NULL;
    }
    PyObject *names = PyDict_New(), *result = NULL, *found = NULL;
    Plan plan = {.windows = 1};
    Cols cols;
    if (names == NULL)
        return NULL;
    if (!list_columns(args[0], args[1], NULL, NULL, &cols) || PyList_GET_SIZE(args[0]) != PyList_GET_SIZE(args[1])) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (plan_alloc(&plan, cols.length) < 0)
        goto done;
    for (Py_ssize_t e = 0; e < plan.events; e++)
        plan.pos[e] = e;
    PyObject *windows = lay_out(&plan, &cols, names, &found);
    if (windows == NULL || windows == Py_None) {
        result = windows;
        goto done;
    }
    Py_DECREF(windows);
    result = Py_NewRef(found);
done:
    Py_DECREF(names);
    Py_XDECREF(found);
    plan_free(&plan);
    return result;
}

PyDoc_STRVAR(seal_doc,
"seal(parts, step, /)\n--\n\n"
"Every window of a seal, as the digest writer cuts them, and the streams' ranges, read in one pass over the\n"
"column parts (Columns tuples, in delivery order): per events index (by name) its events in delivery order,\n"
"step at a time. ([(index, count, (runs, by_id, joined, first, last)), ...], [(stream, [[first, last], ...]),\n"
"...]) with each layout as window() gives it (by_id: positions in the parts laid end to end) and the streams\n"
"by name. None when an input is not read exactly.");

static PyObject *
seal(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "seal() takes parts and step");
        return NULL;
    }
    PyObject *parts = args[0];
    Py_ssize_t step = 0;
    int over = 0;
    if (!exact_size(args[1], &step, &over) || step < 1 || !PyList_CheckExact(parts))
        Py_RETURN_NONE; /* a step beyond 64 bits is PY_SSIZE_T_MAX here: every index fits one window either way */
    /* every container the collector tracks first: nothing below may run a finaliser once items are copied */
    PyObject *index_names = PyList_New(0), *seen = PyDict_New(), *names = PyDict_New();
    PyObject *result = NULL, *windows = NULL, *laid = NULL, *ranges_found = NULL;
    PyObject **items[COLUMNS] = {NULL};
    Py_ssize_t *sizes = NULL, *base = NULL, *taken = NULL, *owner = NULL, length = 0;
    Named *order = NULL;
    Plan plan = {0};
    if (index_names == NULL || seen == NULL || names == NULL)
        goto done;
    Py_ssize_t count = PyList_GET_SIZE(parts);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *part = PyList_GET_ITEM(parts, i);
        if (!PyTuple_Check(part) || PyTuple_GET_SIZE(part) != COLUMNS)
            goto fallback;
        Py_ssize_t size = -1;
        for (int c = 0; c < COLUMNS; c++) {
            PyObject *column = PyTuple_GET_ITEM(part, c);
            if (!PyList_CheckExact(column) || (size >= 0 && PyList_GET_SIZE(column) != size))
                goto fallback;
            size = PyList_GET_SIZE(column);
        }
        length += size;
    }
    for (int c = 0; c < COLUMNS; c++) {
        if ((items[c] = cells((size_t)length, sizeof(PyObject *))) == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        Py_ssize_t at = 0;
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *column = PyTuple_GET_ITEM(PyList_GET_ITEM(parts, i), c);
            Py_ssize_t size = PyList_GET_SIZE(column);
            if (size > 0) /* an empty list's items are NULL */
                memcpy(items[c] + at, PySequence_Fast_ITEMS(column), sizeof(PyObject *) * (size_t)size);
            at += size;
        }
    }
    if (plan_alloc(&plan, length) < 0)
        goto done;
    int got = number_keys(items[INDICES], length, plan.win, seen, index_names);
    if (got <= 0) {
        if (got == 0)
            goto fallback;
        goto done;
    }
    if (step > length) /* one window per index either way; and sizes[g] + step stays far from overflow */
        step = length > 0 ? length : 1;
    Py_ssize_t groups = PyList_GET_SIZE(index_names);
    sizes = cells((size_t)groups, sizeof(Py_ssize_t));
    base = cells((size_t)groups, sizeof(Py_ssize_t));
    taken = cells((size_t)groups, sizeof(Py_ssize_t));
    order = cells((size_t)groups, sizeof(Named));
    if (sizes == NULL || base == NULL || taken == NULL || order == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t e = 0; e < length; e++)
        sizes[plan.win[e]]++;
    for (Py_ssize_t g = 0; g < groups; g++)
        order[g] = (Named){PyList_GET_ITEM(index_names, g), g};
    if (groups > 1)
        qsort(order, (size_t)groups, sizeof(Named), by_name);
    Py_ssize_t total = 0;
    for (Py_ssize_t k = 0; k < groups; k++) { /* windows numbered by index name, then in delivery order */
        base[order[k].id] = total;
        total += sizes[order[k].id] / step + (sizes[order[k].id] % step != 0);
    }
    owner = cells((size_t)total, sizeof(Py_ssize_t));
    if (owner == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t e = 0; e < length; e++) {
        Py_ssize_t g = plan.win[e], w = base[g] + taken[g]++ / step;
        owner[w] = g;
        plan.pos[e] = e;
        plan.win[e] = w;
    }
    plan.windows = total;
    Cols cols = {length, items[STREAMS], items[SEQS], items[HASHES], items[TIMES], 1, 1};
    windows = lay_out(&plan, &cols, names, &ranges_found);
    if (windows == NULL)
        goto done;
    if (windows == Py_None)
        goto fallback;
    laid = PyList_New(total);
    if (laid == NULL)
        goto done;
    for (Py_ssize_t w = 0; w < total; w++) {
        Py_ssize_t g = owner[w], left = sizes[g] - (w - base[g]) * step;
        PyObject *size = PyLong_FromSsize_t(left < step ? left : step);
        PyObject *item = size ? PyTuple_Pack(3, PyList_GET_ITEM(index_names, g), size, PyList_GET_ITEM(windows, w))
                              : NULL;
        Py_XDECREF(size);
        if (item == NULL)
            goto done;
        PyList_SET_ITEM(laid, w, item);
    }
    result = PyTuple_Pack(2, laid, ranges_found);
    goto done;
fallback:
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(index_names);
    Py_XDECREF(seen);
    Py_XDECREF(names);
    Py_XDECREF(windows);
    Py_XDECREF(laid);
    Py_XDECREF(ranges_found);
    for (int c = 0; c < COLUMNS; c++)
        PyMem_Free(items[c]);
    plan_free(&plan);
    PyMem_Free(sizes);
    PyMem_Free(base);
    PyMem_Free(taken);
    PyMem_Free(order);
    PyMem_Free(owner);
    return result;
}

static PyMethodDef methods[] = {
    {"window", (PyCFunction)(void (*)(void))window, METH_FASTCALL, window_doc},
    {"ranges", (PyCFunction)(void (*)(void))ranges, METH_FASTCALL, ranges_doc},
    {"seal", (PyCFunction)(void (*)(void))seal, METH_FASTCALL, seal_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "auditlog.indexer._layout",
    .m_doc = "The digest seal's bookkeeping over columns in C (see indexer/integrity.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__layout(void)
{
    return PyModule_Create(&module);
}
