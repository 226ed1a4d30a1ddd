/*
 * auditlog.agent._linescan: the pass-through's check of an emitter line in one C call.
 *
 * agent/fastpath.py decides whether a line may be shipped as written. Its Python implementation (a
 * typed msgspec decode plus checks) stays the reference and the fallback; this scanner answers the
 * same question for the lines the emitter writes, without making a Python object per field. It is
 * deliberately narrower than the Python path: whatever it is not sure of (an escape in a string,
 * whitespace between tokens, a duplicate key, a number it does not parse exactly, a text the redactor
 * might act on, a change name not yet cleared) returns None, and the caller runs the Python path,
 * which decides. So this file never rejects a line; it only saves work on lines it fully understands.
 * tests/agent/test_linescan.py and tests/fuzz hold it equal to the Python path.
 *
 * The field table comes from Python (agent/linescan.py builds it from the contract's one definition);
 * nothing about the contract's fields is written here except the three string shapes the Python path
 * also checks by hand (event.id, event.action, @timestamp).
 *
 * Hostile input: every read is bounded by the line's end; nesting is fixed by the table (no
 * recursion); strings are validated as UTF-8 by the rules CPython's decoder applies.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* field kinds (agent/linescan.py's KIND_* values) */
enum { K_STR = 0, K_INT = 1, K_STRLIST = 2, K_STR_OR_LIST = 3, K_CHANGES = 4, K_TIMESTAMP = 5, K_ID = 6,
       K_ACTION = 7 };
/* what a field's value is to the caller (agent/linescan.py's ROLE_* values) */
enum { R_NONE = 0, R_ID, R_TS, R_TIER, R_STREAM, R_SEQ, R_ORG, R_USER, R_IP, R_MSG, R_URL, R_CHANGES,
       R_CHANGED_FIELDS, R_COUNT };

#define MAX_KEY 64
#define MAX_ENUM 8
#define MAX_MEMBERS 16
#define MAX_TOPS 16
#define MAX_TEXTS 256
#define MAX_ROUTES 16
#define CLEARED_SLOTS 512 /* a power of two */
#define CLEARED_NAME 48   /* longer change names are asked of Python every time */
#define SECOND_LEN 19 /* YYYY-MM-DDTHH:MM:SS */
#define DAY_LEN 10    /* YYYY-MM-DD */

typedef struct {
    char key[MAX_KEY];
    Py_ssize_t keylen;
    int kind, role, required;
    Py_ssize_t minlen, maxlen; /* in code points; maxlen -1: none */
    int64_t lo, hi;
    int nenum;
    char enums[MAX_ENUM][MAX_KEY];
    Py_ssize_t enumlens[MAX_ENUM];
} FieldSpec;

typedef struct {
    FieldSpec f;      /* the key, and the field itself when not an object */
    int is_object;
    int nmembers;
    FieldSpec members[MAX_MEMBERS];
} TopSpec;

typedef struct {
    PyObject_HEAD
    int ntops;
    TopSpec tops[MAX_TOPS];
    PyObject *clean_names; /* the redactor's names found not secret (a container), or NULL: no redactor */
    PyObject *replacement; /* bytes: the redactor's replacement text */
    /* the last text returned per role (tier, stream, ip repeat from line to line): handed out again when
     * the line holds the same bytes, so the caller's look-ups find its hash already computed */
    PyObject *memo[R_COUNT];
    /* the route memo (agent/fastpath.py): the router's answers per tier and UTC day, as Python worked them
     * out, handed back for a "...Z" timestamp whose second lies in the time bounds' window while that
     * window is still the router's own (owner.bounds_window is the very tuple learnt) and the bounds'
     * clock reads before the window's end; anything else is routed in Python, which decides */
    PyObject *owner;  /* the router (agent.enrich.Enricher); NULL: no window yet, the memo answers nothing */
    PyObject *window; /* the (earliest, latest, until) tuple the window was learnt from */
    char earliest[SECOND_LEN], latest[SECOND_LEN];
    double until;
    unsigned long generation; /* changes whenever the memo does: Python run from here cannot leave it stale */
    /* within one Scanner.run: the router's clock as read for the run's first routed line, and the memo's
     * generation then (in_run 0: scan(), every line reads the clock) */
    int in_run, run_clock_read;
    unsigned long run_generation;
    double run_now;
    int nroutes, next_route;
    struct {
        char tier[MAX_KEY];
        Py_ssize_t tierlen;
        char day[DAY_LEN];
        PyObject *prefix, *index; /* bytes: the action line's start; str: the index name */
    } routes[MAX_ROUTES];
    /* change names clean_names held when this scanner asked (the redactor's answer for a name never changes for
     * one redactor, whose set is bounded and may forget it): found here by their bytes, no str made per name.
     * Open addressing, filled up to half the slots and then no more; emptied whenever the table is set. */
    int ncleared;
    struct {
        uint32_t hash;
        unsigned char used, len;
        char s[CLEARED_NAME];
    } cleared[CLEARED_SLOTS];
} Scanner;

typedef struct { const unsigned char *s; Py_ssize_t n; } Span;

typedef struct {
    Span val[R_COUNT];    /* string values by role (s NULL: absent) */
    int64_t seq;
    int has_seq;
    int changes_nonempty;
    int needs_python_texts; /* a text holds what a redactor regex needs ('=', '://user@', ...): they decide, in Python */
    Span texts_changes[MAX_TEXTS];
    int ntexts;
    /* change names to look up, and whether their values were already blanked */
    Span names[MAX_TEXTS];
    int nnames;
} Found;

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

#define DOUBT 0
#define OK 1

/* ---- strings ------------------------------------------------------------------------------------ */

/* A JSON string without escapes at *pp (which points at its opening quote); valid UTF-8 by CPython's
 * rules (no overlong forms, no surrogates, nothing above U+10FFFF). On OK, *pp is past the closing quote,
 * the span holds the contents and *chars their code points. */
static int
scan_string(const unsigned char **pp, const unsigned char *end, Span *out, Py_ssize_t *chars)
{
    const unsigned char *p = *pp;
    if (p >= end || *p != '"')
        return DOUBT;
    p++;
    const unsigned char *start = p;
    Py_ssize_t count = 0;
    while (p < end) {
        /* eight bytes at a time: skip plain ASCII (no quote, backslash, control or non-ASCII byte), stop at
         * the first other byte (the lowest flagged byte of these tests is exact: Bit Twiddling Hacks'
         * "has a zero byte" and "has a byte less than n") */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
        /* (the lowest flagged byte is the first in memory on little-endian machines only; elsewhere bytewise) */
        if (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
            uint64_t flagged = (((w - ONES * 0x20) & ~w) | ((q - ONES) & ~q) | ((b - ONES) & ~b) | w) & HIGHS;
            if (flagged == 0) {
                p += 8;
                count += 8;
                continue;
            }
            int plain = __builtin_ctzll(flagged) >> 3;
            p += plain;
            count += plain;
        }
#endif
        unsigned char c = *p;
        if (c == '"') {
            out->s = start;
            out->n = p - start;
            *chars = count;
            *pp = p + 1;
            return OK;
        }
        if (c == '\\' || c < 0x20)
            return DOUBT;
        if (c < 0x80) {
            p++;
        }
        else if (c >= 0xC2 && c <= 0xDF) {
            if (end - p < 2 || (p[1] & 0xC0) != 0x80)
                return DOUBT;
            p += 2;
        }
        else if (c >= 0xE0 && c <= 0xEF) {
            if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
                return DOUBT;
            if (c == 0xE0 && p[1] < 0xA0)
                return DOUBT; /* overlong */
            if (c == 0xED && p[1] >= 0xA0)
                return DOUBT; /* surrogate */
            p += 3;
        }
        else if (c >= 0xF0 && c <= 0xF4) {
            if (end - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
                return DOUBT;
            if (c == 0xF0 && p[1] < 0x90)
                return DOUBT; /* overlong */
            if (c == 0xF4 && p[1] >= 0x90)
                return DOUBT; /* above U+10FFFF */
            p += 4;
        }
        else {
            return DOUBT;
        }
        count++;
    }
    return DOUBT;
}

static int
digits(const unsigned char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int
two(const unsigned char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* The contract's @timestamp: YYYY-MM-DDTHH:MM:SS(.f{1,9})?(Z|[+-]HH:MM), year not 0000, a day its month has. */
static int
timestamp_ok(Span v)
{
    const unsigned char *s = v.s;
    Py_ssize_t n = v.n;
    if (n < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
        s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' ||
        !digits(s + 17, 2))
        return 0;
    int year = two(s) * 100 + two(s + 2), month = two(s + 5), day = two(s + 8);
    if (year == 0 || month < 1 || month > 12 || day < 1 || two(s + 11) > 23 || two(s + 14) > 59 ||
        two(s + 17) > 59)
        return 0;
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int last = days[month - 1];
    if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
        last = 29;
    if (day > last)
        return 0;
    Py_ssize_t i = 19;
    if (s[i] == '.') {
        Py_ssize_t f = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i - f < 1 || i - f > 9)
            return 0;
    }
    if (i < n && s[i] == 'Z')
        return i + 1 == n;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        return n - i == 6 && digits(s + i + 1, 2) && s[i + 3] == ':' && digits(s + i + 4, 2) &&
               two(s + i + 1) <= 23 && two(s + i + 4) <= 59;
    return 0;
}

/* event.id: [!-~]{1,512} (its length is the table's) */
static int
id_ok(Span v)
{
    for (Py_ssize_t i = 0; i < v.n; i++)
        if (v.s[i] < '!' || v.s[i] > '~')
            return 0;
    return 1;
}

/* event.action: [a-z0-9][a-z0-9_.:-]{0,127} (its length is the table's) */
static int
action_ok(Span v)
{
    for (Py_ssize_t i = 0; i < v.n; i++) {
        unsigned char c = v.s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '.' && c != ':' && c != '-')))
            return 0;
    }
    return 1;
}

/* A dotted quad as agent/contract.py's _IPV4 reads it: four decimal numbers 0-255 without leading zeros. */
static int
ipv4_ok(Span v)
{
    const unsigned char *s = v.s, *end = v.s + v.n;
    for (int part = 0; part < 4; part++) {
        if (part && (s >= end || *s++ != '.'))
            return 0;
        const unsigned char *d = s;
        int value = 0;
        while (s < end && *s >= '0' && *s <= '9' && s - d < 3)
            value = value * 10 + (*s++ - '0');
        if (s == d || value > 255 || (s - d > 1 && *d == '0'))
            return 0;
    }
    return s == end;
}

static int
hex_digit(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* agent/contract.py's _HEX_GROUPS over s[0..n): the number of 1-4 digit hex groups between single colons (0 for
 * an empty span), -1 when the span is not such a run */
static Py_ssize_t
hex_groups(const unsigned char *s, Py_ssize_t n)
{
    Py_ssize_t groups = 0, i = 0;
    while (n > 0) {
        Py_ssize_t d = i;
        while (i < n && hex_digit(s[i]) && i - d < 4)
            i++;
        if (i == d)
            return -1; /* no digit: an empty group, a stray character, or a colon at the end */
        groups++;
        if (i == n)
            return groups;
        if (s[i++] != ':')
            return -1; /* a fifth digit or another character */
    }
    return 0;
}

/* A hex-colon IPv6 address as agent/contract.py's _parse_ip reads one without '.' or '%' (eight groups, or at
 * most seven around one "::"). 0 also for the forms it hands to ipaddress (embedded IPv4, zone ids): those and
 * anything refused go back to agent.contract.is_ip, which answers them as before. */
static int
ipv6_ok(Span v)
{
    const unsigned char *s = v.s;
    Py_ssize_t n = v.n, colons = 0, dbl = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] == '.' || s[i] == '%')
            return 0;
        if (s[i] == ':') {
            colons++;
            if (dbl < 0 && i + 1 < n && s[i + 1] == ':')
                dbl = i;
        }
    }
    if (colons == 0)
        return 0;
    if (dbl < 0)
        return colons == 7 && hex_groups(s, n) == 8;
    const unsigned char *tail = s + dbl + 2;
    Py_ssize_t tail_n = n - dbl - 2;
    for (Py_ssize_t i = 0; i + 1 < tail_n; i++)
        if (tail[i] == ':' && tail[i + 1] == ':')
            return 0;
    Py_ssize_t head_groups = hex_groups(s, dbl), tail_groups = hex_groups(tail, tail_n);
    return head_groups >= 0 && tail_groups >= 0 && head_groups + tail_groups <= 7;
}

/* ---- numbers and other scalars ------------------------------------------------------------------ */

/* A JSON number at *pp that msgspec decodes to an int within [lo, hi] (when *is_int) or to a finite
 * double. Refused (DOUBT): anything else, including numbers it would accept but this does not parse
 * exactly (long mantissas, large exponents). */
static int
scan_number(const unsigned char **pp, const unsigned char *end, int *is_int, int64_t *value)
{
    const unsigned char *p = *pp;
    int neg = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    const unsigned char *d = p;
    if (p >= end || *p < '0' || *p > '9')
        return DOUBT;
    if (*p == '0') {
        p++;
    }
    else {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    Py_ssize_t ndigits = p - d;
    int frac = 0, exp = 0;
    if (p < end && *p == '.') {
        p++;
        const unsigned char *f = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == f)
            return DOUBT;
        frac = 1;
        ndigits += p - f;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        const unsigned char *e = p;
        int evalue = 0;
        while (p < end && *p >= '0' && *p <= '9') {
            if (p - e >= 3)
                return DOUBT;
            evalue = evalue * 10 + (*p - '0');
            p++;
        }
        if (p == e || evalue > 280)
            return DOUBT;
        exp = 1;
    }
    if (frac || exp) {
        /* a finite double: at most 24 digits times at most 10^280 */
        if (ndigits > 24)
            return DOUBT;
        *is_int = 0;
        *pp = p;
        return OK;
    }
    /* an integer of at most 19 digits, checked against int64 without overflow */
    if (ndigits > 19)
        return DOUBT;
    uint64_t u = 0;
    for (const unsigned char *q = d; q < p; q++)
        u = u * 10 + (uint64_t)(*q - '0');
    if (neg ? u > (uint64_t)INT64_MAX + 1 : u > (uint64_t)INT64_MAX)
        return DOUBT;
    *value = neg ? (int64_t)(0 - u) : (int64_t)u;
    *is_int = 1;
    *pp = p;
    return OK;
}

static int
literal(const unsigned char **pp, const unsigned char *end, const char *word, Py_ssize_t n)
{
    if (end - *pp < n || memcmp(*pp, word, n) != 0)
        return DOUBT;
    *pp += n;
    return OK;
}

/* ---- texts the redactor reads ------------------------------------------------------------------- */

/* the redactor's cheap checks (agent/redact.py Redactor.suspect_text) as one pass over a text's bytes:
 * 'eyJ', '-----BEGIN', 'bearer' or 'basic' in any ASCII case (str.lower() finds no more here: the only
 * non-ASCII characters it lowers to ASCII letters are U+0130, to "i" plus a combining dot, and U+212A, to
 * "k"; neither completes a needle) mean it might act; "://" and an '@' before any '/', blank, '?' or '#'
 * (userinfo_hint), '=', '</', a colon before a blank or a quote
 * ("password: x") or a colon after a quote and blanks ("{'pwd': x}") mean its regexes decide (in Python).
 * Those are the literals the assignment rules need, no more: colons in times, dates, ports and "://", which
 * most emitter texts hold, stay here. */
static unsigned char interesting[256];

static void
init_interesting(void)
{
    const char *c = "eEbB-@=:<";
    for (; *c; c++)
        interesting[(unsigned char)*c] = 1;
}

static int
folded(const unsigned char *s, Py_ssize_t n, const char *lower, Py_ssize_t k)
{
    if (n < k)
        return 0;
    for (Py_ssize_t j = 0; j < k; j++)
        if ((s[j] | 0x20) != (unsigned char)lower[j])
            return 0;
    return 1;
}

/* redact.py's _NAME class: the characters of a name before ':' or '=' */
static int
name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-' || c == '[' || c == ']';
}

/* Whether the colon at s[i] (before a blank or a quote) may assign to a secret name, as redact.py's _COLON reads
 * it: the whole run of name characters before it (blanks between), at most 64 long. 0: no such name, or one the
 * redactor already found not secret (in clean, its cleared names); 1: the redactor must look; -1: an exception. */
static int
colon_needs_python(const unsigned char *s, Py_ssize_t i, PyObject *clean)
{
    Py_ssize_t j = i;
    while (j > 0 && (s[j - 1] == ' ' || s[j - 1] == '\t'))
        j--;
    Py_ssize_t k = j;
    while (k > 0 && name_char(s[k - 1]) && j - k <= 64)
        k--;
    if (k == j || j - k > 64)
        return 0; /* no name, or a run longer than any the rule takes: _COLON cannot match here */
    PyObject *name = PyUnicode_FromStringAndSize((const char *)s + k, j - k);
    if (name == NULL)
        return -1;
    int known = PySequence_Contains(clean, name);
    Py_DECREF(name);
    return known < 0 ? -1 : !known;
}

/* redact.py's _USERINFO_HINT ("://", then no '/', blank, '?', '#' or '@', then '@') ending at the '@' at s[i]: the
 * one rule an '@' serves (mail addresses, which most emitter texts hold, stay here). The run before the '@' stops at
 * the '@' before it, so a text's '@'s are looked at once in all. */
static int
userinfo_hint(const unsigned char *s, Py_ssize_t i)
{
    Py_ssize_t k = i;
    while (k > 0) {
        unsigned char c = s[k - 1];
        if (c == '/' || c == ' ' || (c >= '\t' && c <= '\r') || c == '?' || c == '#' || c == '@')
            break; /* \t \n \v \f \r are 9-13: the blanks of \s with re.ASCII */
        k--;
    }
    return k >= 3 && s[k - 1] == '/' && s[k - 2] == '/' && s[k - 3] == ':';
}

/* 1: the cheap checks clear this text (*python set when a regex must look); 0: the redactor might act; -1: an
 * exception (clean: the redactor's names found not secret) */
static int
text_clear(Span v, int *python, PyObject *clean)
{
    const unsigned char *s = v.s;
    Py_ssize_t n = v.n;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!interesting[s[i]])
            continue;
        const unsigned char *t = s + i;
        Py_ssize_t left = n - i;
        switch (*t) {
        case '@':
            if (userinfo_hint(s, i))
                *python = 1;
            break;
        case '=':
            *python = 1;
            break;
        case ':': {
            Py_ssize_t j = i; /* redact.py's _SQPAIR: a quote, blanks or tabs, the colon */
            while (j > 0 && (s[j - 1] == ' ' || s[j - 1] == '\t'))
                j--;
            if (j > 0 && s[j - 1] == '\'')
                *python = 1;
            else if (left >= 2 && (t[1] == ' ' || t[1] == '\t' || t[1] == '\'' || t[1] == '"')) {
                /* _COLON. "failed: ..." is common prose: only a name the redactor has not cleared yet needs it */
                int need = colon_needs_python(s, i, clean);
                if (need < 0)
                    return -1;
                if (need)
                    *python = 1;
            }
            break;
        }
        case '<':
            if (left >= 2 && t[1] == '/')
                *python = 1;
            break;
        case '-':
            if (left >= 10 && memcmp(t, "-----BEGIN", 10) == 0)
                return 0;
            break;
        case 'e':
            if (left >= 3 && t[1] == 'y' && t[2] == 'J')
                return 0;
            break;
        default: /* b or B */
            if (folded(t, left, "bearer", 6) || folded(t, left, "basic", 5))
                return 0;
        }
    }
    return 1;
}

/* ---- the line ----------------------------------------------------------------------------------- */

/* a scalar inside a change: string, number, true, false or null; strings are kept as texts */
static int
scan_scalar(const unsigned char **pp, const unsigned char *end, Found *fd, int *blank, Scanner *self)
{
    const unsigned char *p = *pp;
    if (p >= end)
        return DOUBT;
    *blank = 0;
    if (*p == '"') {
        Span v;
        Py_ssize_t chars;
        if (!scan_string(pp, end, &v, &chars))
            return DOUBT;
        if (fd->ntexts >= MAX_TEXTS)
            return DOUBT;
        fd->texts_changes[fd->ntexts++] = v;
        *blank = v.n == PyBytes_GET_SIZE(self->replacement) &&
                 memcmp(v.s, PyBytes_AS_STRING(self->replacement), v.n) == 0;
        return OK;
    }
    if (*p == 'n') {
        *blank = 1;
        return literal(pp, end, "null", 4);
    }
    if (*p == 't')
        return literal(pp, end, "true", 4);
    if (*p == 'f')
        return literal(pp, end, "false", 5);
    int is_int;
    int64_t ignored;
    return scan_number(pp, end, &is_int, &ignored);
}

/* Containers: `opened` at the opening byte (1: items follow, 0: empty and consumed, -1: not this
 * container); `after_item` past an item (1: another follows, 0: closed and consumed, -1: anything else). */
static int
opened(const unsigned char **pp, const unsigned char *end, unsigned char open, unsigned char close)
{
    const unsigned char *p = *pp;
    if (p >= end || *p != open)
        return -1;
    p++;
    if (p < end && *p == close) {
        *pp = p + 1;
        return 0;
    }
    *pp = p;
    return 1;
}

static int
after_item(const unsigned char **pp, const unsigned char *end, unsigned char close)
{
    if (*pp < end && (**pp == ',' || **pp == close)) {
        return *(*pp)++ == ',';
    }
    return -1;
}

/* a change's old or new: a scalar or an array of scalars */
static int
scan_change_value(const unsigned char **pp, const unsigned char *end, Found *fd, int *blank, Scanner *self)
{
    int items = opened(pp, end, '[', ']'), more = items, ignored;
    if (items < 0)
        return scan_scalar(pp, end, fd, blank, self);
    *blank = 0;
    while (more == 1) {
        if (!scan_scalar(pp, end, fd, &ignored, self))
            return DOUBT;
        more = after_item(pp, end, ']');
    }
    return more == 0;
}

/* audit.changes: {name: {"old": v, "new": v}, ...}; each change has exactly old and new, once each */
static int
scan_changes(const unsigned char **pp, const unsigned char *end, Found *fd, Scanner *self)
{
    int more = opened(pp, end, '{', '}');
    while (more == 1) {
        Span name;
        Py_ssize_t chars;
        if (!scan_string(pp, end, &name, &chars) || !literal(pp, end, ":", 1) || opened(pp, end, '{', '}') != 1)
            return DOUBT;
        int seen_old = 0, seen_new = 0, all_blank = 1, inner = 1;
        while (inner == 1) {
            int blank, *seen = literal(pp, end, "\"old\":", 6) ? &seen_old : literal(pp, end, "\"new\":", 6) ? &seen_new : NULL;
            if (seen == NULL || *seen || !scan_change_value(pp, end, fd, &blank, self))
                return DOUBT;
            *seen = 1;
            all_blank &= blank;
            inner = after_item(pp, end, '}');
        }
        if (inner < 0 || !seen_old || !seen_new)
            return DOUBT;
        fd->changes_nonempty = 1;
        /* a name whose values are already blank needs no look-up (the redactor would not act) */
        if (!all_blank) {
            if (fd->nnames >= MAX_TEXTS)
                return DOUBT;
            fd->names[fd->nnames++] = name;
        }
        more = after_item(pp, end, '}');
    }
    return more == 0;
}

/* an array of strings */
static int
scan_string_list(const unsigned char **pp, const unsigned char *end)
{
    int more = opened(pp, end, '[', ']');
    while (more == 1) {
        Span v;
        Py_ssize_t chars;
        if (!scan_string(pp, end, &v, &chars))
            return DOUBT;
        more = after_item(pp, end, ']');
    }
    return more == 0;
}

static int
scan_field(const unsigned char **pp, const unsigned char *end, const FieldSpec *f, Found *fd, Scanner *self)
{
    const unsigned char *p = *pp;
    if (p < end && *p == 'n') { /* null: an optional field left out */
        if (f->required || !literal(pp, end, "null", 4))
            return DOUBT;
        return OK;
    }
    switch (f->kind) {
    case K_INT: {
        int is_int;
        int64_t v;
        if (!scan_number(pp, end, &is_int, &v) || !is_int || v < f->lo || v > f->hi)
            return DOUBT;
        if (f->role == R_SEQ) {
            fd->seq = v;
            fd->has_seq = 1;
        }
        return OK;
    }
    case K_STRLIST:
        if (f->role == R_CHANGED_FIELDS)
            fd->val[R_CHANGED_FIELDS].s = p;
        return scan_string_list(pp, end);
    case K_STR_OR_LIST:
        if (p < end && *p == '[')
            return scan_string_list(pp, end);
        break; /* a string, below */
    case K_CHANGES:
        return scan_changes(pp, end, fd, self);
    default:
        break;
    }
    Span v;
    Py_ssize_t chars;
    if (!scan_string(pp, end, &v, &chars))
        return DOUBT;
    if (chars < f->minlen || (f->maxlen >= 0 && chars > f->maxlen))
        return DOUBT;
    if (f->nenum) {
        int found = 0;
        for (int i = 0; i < f->nenum && !found; i++)
            found = v.n == f->enumlens[i] && memcmp(v.s, f->enums[i], v.n) == 0;
        if (!found)
            return DOUBT;
    }
    if ((f->kind == K_TIMESTAMP && !timestamp_ok(v)) || (f->kind == K_ID && !id_ok(v)) ||
        (f->kind == K_ACTION && !action_ok(v)))
        return DOUBT;
    if (f->role != R_NONE)
        fd->val[f->role] = v;
    return OK;
}

/* the key at *pp among n specs; returns its index, or -1 */
/* The key at *pp among n specs, tried from `next` on (lines list their keys in the contract's order, so the
 * first try usually matches); returns its index, or -1 (a key the table does not name, or one spelled with
 * an escape: the table's keys are plain ASCII, so comparing the bytes up to the closing quote is exact). */
static int
scan_key(const unsigned char **pp, const unsigned char *end, const FieldSpec *specs, int n, Py_ssize_t stride,
         int next)
{
    const unsigned char *p = *pp;
    if (p >= end || *p != '"')
        return -1;
    p++;
    Py_ssize_t left = end - p;
    for (int j = 0; j < n; j++) {
        int i = next + j < n ? next + j : next + j - n;
        const FieldSpec *f = (const FieldSpec *)((const char *)specs + i * stride);
        Py_ssize_t k = f->keylen;
        if (left > k + 1 && p[k] == '"' && p[k + 1] == ':' && memcmp(p, f->key, k) == 0) {
            *pp = p + k + 2;
            return i;
        }
    }
    return -1;
}

static int
scan_object(const unsigned char **pp, const unsigned char *end, const TopSpec *t, Found *fd, Scanner *self)
{
    if (*pp < end && **pp == 'n')
        return !t->f.required && literal(pp, end, "null", 4);
    int more = opened(pp, end, '{', '}'), next = 0;
    uint32_t seen = 0;
    while (more == 1) {
        int i = scan_key(pp, end, t->members, t->nmembers, sizeof(FieldSpec), next);
        if (i < 0 || (seen & (1u << i)) || !scan_field(pp, end, &t->members[i], fd, self))
            return DOUBT;
        seen |= 1u << i;
        next = i + 1;
        more = after_item(pp, end, '}');
    }
    for (int i = 0; i < t->nmembers; i++)
        if (t->members[i].required && !(seen & (1u << i)))
            return DOUBT;
    return more == 0;
}

static int
scan_line(Scanner *self, const unsigned char *p, const unsigned char *end, Found *fd)
{
    int more = opened(&p, end, '{', '}'), next = 0;
    uint32_t seen = 0;
    while (more == 1) {
        int i = scan_key(&p, end, &self->tops[0].f, self->ntops, sizeof(TopSpec), next);
        if (i < 0 || (seen & (1u << i)))
            return DOUBT;
        const TopSpec *t = &self->tops[i];
        if (t->is_object ? !scan_object(&p, end, t, fd, self) : !scan_field(&p, end, &t->f, fd, self))
            return DOUBT;
        seen |= 1u << i;
        next = i + 1;
        more = after_item(&p, end, '}');
    }
    if (more != 0 || p != end)
        return DOUBT;
    for (int i = 0; i < self->ntops; i++)
        if (self->tops[i].f.required && !(seen & (1u << i)))
            return DOUBT;
    return OK;
}

static uint32_t
name_hash(Span v)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (Py_ssize_t i = 0; i < v.n; i++)
        h = (h ^ v.s[i]) * 16777619u;
    return h;
}

/* whether clean_names held change name ``v`` when this scanner last asked: 1 yes, 0 not known here */
static int
cleared_known(Scanner *self, Span v, uint32_t h)
{
    if (v.n > CLEARED_NAME)
        return 0;
    for (uint32_t at = h & (CLEARED_SLOTS - 1);; at = (at + 1) & (CLEARED_SLOTS - 1)) {
        if (!self->cleared[at].used)
            return 0;
        if (self->cleared[at].hash == h && self->cleared[at].len == v.n && memcmp(self->cleared[at].s, v.s, (size_t)v.n) == 0)
            return 1;
    }
}

static void
cleared_keep(Scanner *self, Span v, uint32_t h)
{
    if (v.n > CLEARED_NAME || self->ncleared >= CLEARED_SLOTS / 2)
        return;
    uint32_t at = h & (CLEARED_SLOTS - 1);
    while (self->cleared[at].used)
        at = (at + 1) & (CLEARED_SLOTS - 1);
    self->cleared[at].used = 1;
    self->cleared[at].hash = h;
    self->cleared[at].len = (unsigned char)v.n;
    memcpy(self->cleared[at].s, v.s, (size_t)v.n);
    self->ncleared++;
}

static void
forget_cleared(Scanner *self)
{
    self->ncleared = 0;
    for (int i = 0; i < CLEARED_SLOTS; i++)
        self->cleared[i].used = 0;
}

static PyObject *
text_of(Span v)
{
    if (v.s == NULL)
        Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8((const char *)v.s, v.n, NULL);
}

static PyObject *
memo_text(Scanner *self, int role, Span v)
{
    if (v.s == NULL)
        Py_RETURN_NONE;
    PyObject *m = self->memo[role];
    if (m != NULL) {
        Py_ssize_t n;
        const char *u = PyUnicode_AsUTF8AndSize(m, &n);
        if (u == NULL)
            PyErr_Clear(); /* its own failure only: the memo is then made afresh */
        else if (n == v.n && memcmp(u, v.s, n) == 0)
            return Py_NewRef(m);
    }
    PyObject *text = text_of(v);
    if (text != NULL)
        Py_XSETREF(self->memo[role], Py_NewRef(text));
    return text;
}

static int
same(Span a, Span b)
{
    return a.s != NULL && b.s != NULL && a.n == b.n && memcmp(a.s, b.s, a.n) == 0;
}

/* the texts joined by newlines as the Python path joins them: message, url.full, then the changes' strings */
static PyObject *
joined_texts(Found *fd)
{
    Span parts[MAX_TEXTS + 2];
    int n = 0;
    if (fd->val[R_MSG].s != NULL)
        parts[n++] = fd->val[R_MSG];
    if (fd->val[R_URL].s != NULL)
        parts[n++] = fd->val[R_URL];
    for (int i = 0; i < fd->ntexts; i++)
        parts[n++] = fd->texts_changes[i];
    Py_ssize_t size = n ? n - 1 : 0;
    for (int i = 0; i < n; i++)
        size += parts[i].n;
    char *buf = PyMem_Malloc(size ? size : 1);
    if (buf == NULL)
        return PyErr_NoMemory();
    char *w = buf;
    for (int i = 0; i < n; i++) {
        if (i)
            *w++ = '\n';
        memcpy(w, parts[i].s, parts[i].n);
        w += parts[i].n;
    }
    PyObject *text = PyUnicode_DecodeUTF8(buf, size, NULL);
    PyMem_Free(buf);
    return text;
}

static PyObject *str_bounds_window, *str_bounds, *str_clock; /* interned at import */

/* The router's clock (owner.bounds.clock, read now, as the router reads it), when owner.bounds_window is still the
 * tuple learnt; else NULL, with no exception (any failure: the router decides). */
static PyObject *
current_clock(PyObject *owner, PyObject *learnt)
{
    PyObject *window = PyObject_GetAttr(owner, str_bounds_window), *bounds = NULL, *clock = NULL;
    if (window != NULL && window == learnt && (bounds = PyObject_GetAttr(owner, str_bounds)) != NULL)
        clock = PyObject_GetAttr(bounds, str_clock);
    Py_XDECREF(window);
    Py_XDECREF(bounds);
    if (clock == NULL)
        PyErr_Clear();
    return clock;
}

/* The memo's route for a line's tier and timestamp: 1 with new references in *prefix and *index, else 0 (route
 * in Python). Python runs here (three attribute reads, the clock); whatever it does to the memo, the answer is
 * given only when the memo is unchanged (its generation), from references held across the calls. A failing
 * clock is left to the router, which reads it again and fails the same way. When the memo declines after
 * reading the clock, the router reads the clock once more: with a wall clock the line is only judged a moment
 * later. Within one Scanner.run the clock is read for the first routed line only, while the memo keeps its
 * generation: a run is at most a batch (milliseconds of lines), so its lines are judged at the moment it began,
 * as event.ingested is read once per run; the attribute reads and the call per line were about a tenth of the
 * reader's time. The only Python a run executes besides is its two questions (the redactor's, is_ip): a question
 * asked ends the reading's use (Python may have given the router a new window, bounds or clock, which the memo's
 * generation does not see), so the next routed line reads the clock again through owner.bounds_window. */
static int
route_of(Scanner *self, Span tier, Span ts, PyObject **prefix, PyObject **index)
{
    if (self->owner == NULL || ts.n < SECOND_LEN + 1 || ts.s[ts.n - 1] != 'Z' ||
        memcmp(ts.s, self->earliest, SECOND_LEN) < 0 || memcmp(ts.s, self->latest, SECOND_LEN) > 0)
        return 0;
    int at = -1;
    for (int i = 0; i < self->nroutes && at < 0; i++)
        if (self->routes[i].tierlen == tier.n && memcmp(self->routes[i].day, ts.s, DAY_LEN) == 0 &&
            memcmp(self->routes[i].tier, tier.s, (size_t)tier.n) == 0)
            at = i;
    if (at < 0)
        return 0;
    unsigned long generation = self->generation;
    double until = self->until;
    if (self->in_run && self->run_clock_read && self->run_generation == generation) {
        if (!(self->run_now < until))
            return 0;
        *prefix = Py_NewRef(self->routes[at].prefix);
        *index = Py_NewRef(self->routes[at].index);
        return 1;
    }
    PyObject *p = Py_NewRef(self->routes[at].prefix), *x = Py_NewRef(self->routes[at].index);
    PyObject *owner = Py_NewRef(self->owner), *learnt = Py_NewRef(self->window);
    PyObject *clock = current_clock(owner, learnt);
    int ok = clock != NULL && generation == self->generation;
    if (ok) {
        PyObject *reading = PyObject_CallNoArgs(clock);
        double now = reading == NULL ? -1.0 : PyFloat_AsDouble(reading);
        Py_XDECREF(reading);
        if (PyErr_Occurred()) {
            PyErr_Clear();
            ok = 0;
        }
        ok = ok && now < until && generation == self->generation;
        if (ok && self->in_run) {
            self->run_clock_read = 1;
            self->run_generation = generation;
            self->run_now = now;
        }
    }
    Py_XDECREF(clock);
    Py_DECREF(owner);
    Py_DECREF(learnt);
    if (!ok) {
        Py_DECREF(p);
        Py_DECREF(x);
        return 0;
    }
    *prefix = p;
    *index = x;
    return 1;
}

/* Forget the route memo and its window (the memo answers nothing until the next remember_route). The memo is
 * emptied before anything is released: a release can run Python, which then finds an empty memo. */
static void
forget_routes(Scanner *self)
{
    PyObject *old[2 * MAX_ROUTES + 2];
    int n = 0;
    for (int i = 0; i < self->nroutes; i++) {
        old[n++] = self->routes[i].prefix;
        old[n++] = self->routes[i].index;
        self->routes[i].prefix = self->routes[i].index = NULL;
    }
    old[n++] = self->owner;
    old[n++] = self->window;
    self->owner = self->window = NULL;
    self->nroutes = self->next_route = 0;
    self->generation++;
    for (int i = 0; i < n; i++)
        Py_XDECREF(old[i]);
}

/* The line check shared by Scanner.scan and Scanner.run: OK with *fd filled, *ip the address left for
 * agent.contract.is_ip (s NULL: none, or one checked here) and *prefix, *index the route memo's answer
 * (new references, or NULL: the router decides); DOUBT: the Python path decides; -1: an exception is set. */
static int
check_line(Scanner *self, PyObject *line, Found *fd, Span *ip, PyObject **prefix, PyObject **index)
{
    *prefix = *index = NULL;
    if (!PyBytes_CheckExact(line) || self->replacement == NULL)
        return DOUBT;
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(line);
    const unsigned char *end = p + PyBytes_GET_SIZE(line);
    memset(fd->val, 0, sizeof(fd->val));
    fd->has_seq = fd->changes_nonempty = fd->needs_python_texts = fd->ntexts = fd->nnames = 0;
    fd->seq = 0;
    if (!scan_line(self, p, end, fd))
        return DOUBT;
    Span id = fd->val[R_ID];
    /* the enricher would add event.id or the changed fields; an id shared with the organization or the
     * user leaves the splice's place uncertain (the shipper's rule) */
    if (id.s == NULL || (fd->changes_nonempty && fd->val[R_CHANGED_FIELDS].s == NULL) || same(id, fd->val[R_ORG]) ||
        same(id, fd->val[R_USER]))
        return DOUBT;
    if (self->clean_names != NULL) {
        int python = 0;
        Span first[2] = {fd->val[R_MSG], fd->val[R_URL]};
        for (int i = 0; i < 2 + fd->ntexts; i++) {
            Span text = i < 2 ? first[i] : fd->texts_changes[i - 2];
            if (text.s == NULL)
                continue;
            int clear = text_clear(text, &python, self->clean_names);
            if (clear < 0)
                return -1;
            if (!clear)
                return DOUBT;
        }
        fd->needs_python_texts = python;
        for (int i = 0; i < fd->nnames; i++) {
            uint32_t h = name_hash(fd->names[i]);
            if (cleared_known(self, fd->names[i], h))
                continue;
            PyObject *name = text_of(fd->names[i]);
            if (name == NULL)
                return -1;
            int clean = PySequence_Contains(self->clean_names, name);
            Py_DECREF(name);
            if (clean < 0)
                return -1;
            if (!clean)
                return DOUBT; /* not cleared yet: the Python path asks the redactor (and clears it) */
            cleared_keep(self, fd->names[i], h);
        }
    }
    /* an address this reads exactly (a dotted quad, a hex-colon IPv6 address) is checked here; any other goes back
     * for agent.contract.is_ip */
    *ip = fd->val[R_IP];
    if (ip->s != NULL && (ipv4_ok(*ip) || ipv6_ok(*ip)))
        ip->s = NULL;
    if (fd->val[R_TIER].s != NULL && fd->val[R_TS].s != NULL && !route_of(self, fd->val[R_TIER], fd->val[R_TS], prefix, index))
        *prefix = *index = NULL;
    return OK;
}

/* A checked line's value by its place in Scanner.scan's tuple: 0 event_id, 1 timestamp, 2 tier, 3 stream, 4 seq
 * (a new reference, or NULL with an exception set). Scanner.run's stamps hold the same values. */
static PyObject *
found_part(Scanner *self, Found *fd, int k)
{
    switch (k) {
    case 0: return text_of(fd->val[R_ID]);
    case 1: return text_of(fd->val[R_TS]);
    case 2: return memo_text(self, R_TIER, fd->val[R_TIER]);
    case 3: return memo_text(self, R_STREAM, fd->val[R_STREAM]);
    default: return fd->has_seq ? PyLong_FromLongLong(fd->seq) : Py_NewRef(Py_None);
    }
}

/* Scanner.scan(line) -> (event_id, timestamp, tier, stream, seq, id_json, id_end, ip, texts, prefix, index) or None */
static PyObject *
Scanner_scan(Scanner *self, PyObject *line)
{
    Found fd;
    Span ip;
    PyObject *prefix, *index; /* the memo's answer: new references, or NULL */
    int checked = check_line(self, line, &fd, &ip, &prefix, &index);
    if (checked < 0)
        return NULL;
    if (checked == DOUBT)
        Py_RETURN_NONE;
    Span id = fd.val[R_ID];
    const char *base = PyBytes_AS_STRING(line);
    PyObject *out = PyTuple_New(11);
    if (out == NULL) {
        Py_XDECREF(prefix);
        Py_XDECREF(index);
        return NULL;
    }
    /* filled one by one, stopping at the first failure (no C-API call while an exception is set) */
    for (int i = 0; i < 11; i++) {
        PyObject *item;
        switch (i) {
        case 0: case 1: case 2: case 3: case 4: item = found_part(self, &fd, i); break;
        case 5: item = PyBytes_FromStringAndSize((const char *)id.s - 1, id.n + 2); break;
        case 6: item = PyLong_FromSsize_t((const char *)id.s + id.n + 1 - base); break;
        case 7: item = text_of(ip); break;
        case 8: item = fd.needs_python_texts ? joined_texts(&fd) : Py_NewRef(Py_None); break;
        case 9: item = prefix != NULL ? prefix : Py_NewRef(Py_None); prefix = NULL; break;
        default: item = index != NULL ? index : Py_NewRef(Py_None); index = NULL;
        }
        if (item == NULL) {
            Py_XDECREF(prefix);
            Py_XDECREF(index);
            Py_DECREF(out); /* the unfilled slots are NULL, which the tuple's deallocation skips */
            return NULL;
        }
        PyTuple_SET_ITEM(out, i, item);
    }
    return out;
}

/* Undo a run's appends past the lengths it found (a failed append must not leave the three lists unequal). */
static void
truncate_to(PyObject *lists[3], Py_ssize_t lens[3])
{
    PyObject *type, *value, *traceback; /* the failure that brought us here, kept across the C-API calls */
    PyErr_Fetch(&type, &value, &traceback);
    for (int k = 0; k < 3; k++)
        if (PyList_GET_SIZE(lists[k]) > lens[k] && PyList_SetSlice(lists[k], lens[k], PY_SSIZE_T_MAX, NULL) < 0)
            PyErr_Clear();
    PyErr_Restore(type, value, traceback);
}

/* A Python answer to a yes/no question (the redactor's suspect_text, agent.contract.is_ip) about one text:
 * 1 yes, 0 no, -1 no answer. An Exception is cleared (the Python path asks again, meets it and reports it); any
 * other (KeyboardInterrupt, SystemExit) stays set for the caller to pass on. */
static int
ask(PyObject *question, PyObject *text)
{
    if (text == NULL || question == Py_None) {
        Py_XDECREF(text);
        return -1;
    }
    PyObject *answer = PyObject_CallOneArg(question, text);
    Py_DECREF(text);
    int yes = answer == NULL ? -1 : PyObject_IsTrue(answer);
    Py_XDECREF(answer);
    return yes;
}

/* head + id_json + '}}\n' + line[:id_end] + ingested + line[id_end:-1] + suffix: agent/shipper.py's bulk entry of a
 * line, in one copy (no slices of the line); the caller guarantees 0 <= id_end < len(line). */
static PyObject *
spliced(Span head, Span id_json, PyObject *line, Py_ssize_t id_end, PyObject *ingested, PyObject *suffix)
{
    const char *base = PyBytes_AS_STRING(line);
    struct { const char *s; Py_ssize_t n; } parts[7] = {
        {(const char *)head.s, head.n}, {(const char *)id_json.s, id_json.n}, {"}}\n", 3}, {base, id_end},
        {PyBytes_AS_STRING(ingested), PyBytes_GET_SIZE(ingested)}, {base + id_end, PyBytes_GET_SIZE(line) - 1 - id_end},
        {PyBytes_AS_STRING(suffix), PyBytes_GET_SIZE(suffix)},
    };
    Py_ssize_t size = 0;
    for (int i = 0; i < 7; i++)
        size += parts[i].n;
    PyObject *out = PyBytes_FromStringAndSize(NULL, size);
    if (out == NULL)
        return NULL;
    char *w = PyBytes_AS_STRING(out);
    for (int i = 0; i < 7; i++) {
        memcpy(w, parts[i].s, parts[i].n);
        w += parts[i].n;
    }
    return out;
}

static Span
span_of(PyObject *bytes)
{
    Span s = {(const unsigned char *)PyBytes_AS_STRING(bytes), PyBytes_GET_SIZE(bytes)};
    return s;
}

/* The bulk entry of a checked line: its id as the line spells it (quotes included) after the action line's head. */
static PyObject *
entry_of(PyObject *prefix, Span id, PyObject *line, PyObject *ingested, PyObject *suffix)
{
    Span id_json = {id.s - 1, id.n + 2};
    return spliced(span_of(prefix), id_json, line, (const char *)id.s + id.n + 1 - PyBytes_AS_STRING(line), ingested,
                   suffix);
}

/* Scanner.run(lines, start, key, path, block_end, room_events, room_bytes, ingested, suffix, suspect, ip_ok,
 *             entries, origins, stamps) -> (next, added, nbytes, end)
 *
 * The pass-through for a run of a block's (offset, line) items from lines[start], as PassThrough.__call__ and
 * the pipeline's per-line loop do it line by line, without a Python frame per line: each line this is sure of
 * gets its entry, its origin (key, path, offset, line) and its stamp appended to the three lists (the open
 * batch's), up to room_events entries or room_bytes bytes. It stops at the first line it is not sure of (the
 * check doubts, the route memo has no answer, suspect(texts) is true, ip_ok(address) is false, any failure):
 * next is that line's index, and the per-line path decides it, as it would have. end is the file offset the
 * last appended line completes (capped at block_end, as for an unterminated last line), -1 when none was. */
static PyObject *
Scanner_run(Scanner *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 14) {
        PyErr_SetString(PyExc_TypeError, "run() takes 14 arguments");
        return NULL;
    }
    PyObject *lines = args[0], *key = args[2], *path = args[3], *ingested = args[7], *suffix = args[8];
    PyObject *suspect = args[9], *ip_ok = args[10];
    PyObject *lists[3] = {args[11], args[12], args[13]};
    if (!PyList_CheckExact(lines) || !PyBytes_CheckExact(ingested) || !PyBytes_CheckExact(suffix) ||
        !PyList_CheckExact(lists[0]) || !PyList_CheckExact(lists[1]) || !PyList_CheckExact(lists[2])) {
        PyErr_SetString(PyExc_TypeError, "run(): list, int, str, str, int, int, int, bytes, bytes, callable, "
                                         "callable, list, list, list expected");
        return NULL;
    }
    Py_ssize_t i, room_events, room_bytes;
    long long block_end;
    /* one at a time: a conversion may run Python (__index__), which must not start with an exception set */
    if ((i = PyLong_AsSsize_t(args[1])) == -1 && PyErr_Occurred())
        return NULL;
    if ((room_events = PyLong_AsSsize_t(args[5])) == -1 && PyErr_Occurred())
        return NULL;
    if ((room_bytes = PyLong_AsSsize_t(args[6])) == -1 && PyErr_Occurred())
        return NULL;
    if ((block_end = PyLong_AsLongLong(args[4])) == -1 && PyErr_Occurred())
        return NULL;
    if (i < 0)
        i = 0;
    Py_ssize_t added = 0, nbytes = 0;
    long long last_end = -1;
    int outer = self->in_run; /* a run started from one of its own questions (never in the agent) */
    self->in_run = 1;
    self->run_clock_read = 0;
    /* what the lists held before: a run that cannot report what it appended takes it all back */
    Py_ssize_t initial[3] = {PyList_GET_SIZE(lists[0]), PyList_GET_SIZE(lists[1]), PyList_GET_SIZE(lists[2])};
    int fatal = 0;
    while (i < PyList_GET_SIZE(lines) && added < room_events && nbytes < room_bytes) {
        PyObject *item = PyList_GET_ITEM(lines, i);
        if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 2 ||
            !PyLong_CheckExact(PyTuple_GET_ITEM(item, 0)) || !PyBytes_CheckExact(PyTuple_GET_ITEM(item, 1)))
            break; /* an overlong line's marker, or anything unexpected: the per-line path */
        Py_INCREF(item); /* held: the Python the check may run (the clock, the questions) cannot free it */
        PyObject *offset = PyTuple_GET_ITEM(item, 0), *line = PyTuple_GET_ITEM(item, 1);
        long long off = PyLong_AsLongLong(offset);
        Found fd;
        Span ip = {NULL, 0};
        PyObject *prefix = NULL, *index = NULL, *entry = NULL, *origin = NULL, *stamp = NULL;
        int ok = !(off == -1 && PyErr_Occurred()) && check_line(self, line, &fd, &ip, &prefix, &index) == OK &&
                 prefix != NULL;
        /* the order of PassThrough._accept: the texts, then the address */
        if (ok && fd.needs_python_texts) {
            ok = ask(suspect, joined_texts(&fd)) == 0;
            self->run_clock_read = 0; /* a question runs Python, which may move the router's window or clock */
        }
        if (ok && ip.s != NULL) {
            ok = ask(ip_ok, text_of(ip)) == 1;
            self->run_clock_read = 0;
        }
        if (ok) {
            entry = entry_of(prefix, fd.val[R_ID], line, ingested, suffix);
            origin = PyTuple_Pack(4, key, path, offset, line);
            stamp = PyTuple_New(5);
            ok = entry != NULL && origin != NULL && stamp != NULL;
            /* (index, event_id, timestamp, stream, seq): PassThrough.stamp's order */
            static const int parts[5] = {-1, 0, 1, 3, 4};
            for (int k = 0; ok && k < 5; k++) {
                PyObject *v = k == 0 ? Py_NewRef(index) : found_part(self, &fd, parts[k]);
                if (v == NULL)
                    ok = 0;
                else
                    PyTuple_SET_ITEM(stamp, k, v);
            }
        }
        if (ok) {
            Py_ssize_t lens[3] = {PyList_GET_SIZE(lists[0]), PyList_GET_SIZE(lists[1]), PyList_GET_SIZE(lists[2])};
            if (PyList_Append(lists[0], entry) < 0 || PyList_Append(lists[1], origin) < 0 ||
                PyList_Append(lists[2], stamp) < 0) {
                truncate_to(lists, lens);
                ok = 0;
            }
        }
        if (ok) {
            added++;
            nbytes += PyBytes_GET_SIZE(entry);
            last_end = off + PyBytes_GET_SIZE(line) + 1;
            if (last_end > block_end)
                last_end = block_end;
        }
        /* an Exception is the per-line path's to meet again and report; anything else (KeyboardInterrupt,
         * SystemExit) ends the run and goes on up, with the run taken back */
        if (PyErr_Occurred()) {
            if (PyErr_ExceptionMatches(PyExc_Exception))
                PyErr_Clear();
            else
                fatal = 1;
        }
        Py_XDECREF(prefix);
        Py_XDECREF(index);
        Py_XDECREF(entry);
        Py_XDECREF(origin);
        Py_XDECREF(stamp);
        Py_DECREF(item);
        if (!ok || fatal)
            break;
        i++;
    }
    self->in_run = outer;
    self->run_clock_read = 0;
    PyObject *out = fatal ? NULL : Py_BuildValue("(nnnL)", i, added, nbytes, last_end);
    if (out == NULL) /* nothing appended may stay unreported: the caller's accounting would miss it */
        truncate_to(lists, initial);
    return out;
}

/* ---- construction ------------------------------------------------------------------------------- */

static int
copy_bytes(PyObject *b, char *dst, Py_ssize_t *len, const char *what)
{
    if (!PyBytes_Check(b) || PyBytes_GET_SIZE(b) >= MAX_KEY) {
        PyErr_Format(PyExc_ValueError, "%s: bytes shorter than %d expected", what, MAX_KEY);
        return -1;
    }
    *len = PyBytes_GET_SIZE(b);
    memcpy(dst, PyBytes_AS_STRING(b), *len);
    dst[*len] = 0;
    return 0;
}

/* (key: bytes, kind, role, required, minlen, maxlen, lo, hi, enums: tuple[bytes, ...]) */
static int
field_from(PyObject *t, FieldSpec *f)
{
    PyObject *key, *enums;
    long long lo, hi;
    if (!PyArg_ParseTuple(t, "SiipnnLLO!", &key, &f->kind, &f->role, &f->required, &f->minlen, &f->maxlen, &lo,
                          &hi, &PyTuple_Type, &enums))
        return -1;
    if (f->kind < K_STR || f->kind > K_ACTION || f->role < R_NONE || f->role >= R_COUNT) {
        PyErr_SetString(PyExc_ValueError, "unknown kind or role");
        return -1;
    }
    f->lo = lo;
    f->hi = hi;
    if (copy_bytes(key, f->key, &f->keylen, "key") < 0)
        return -1;
    f->nenum = (int)PyTuple_GET_SIZE(enums);
    if (f->nenum > MAX_ENUM) {
        PyErr_SetString(PyExc_ValueError, "too many enum values");
        return -1;
    }
    for (int i = 0; i < f->nenum; i++)
        if (copy_bytes(PyTuple_GET_ITEM(enums, i), f->enums[i], &f->enumlens[i], "enum value") < 0)
            return -1;
    return 0;
}

/* Scanner(tops, clean_names, replacement): tops is a tuple of (field, members) where members is None for a
 * top-level field or a tuple of fields; clean_names None: no redactor */
static int
Scanner_init(Scanner *self, PyObject *args, PyObject *kwds)
{
    PyObject *tops, *clean, *replacement;
    static char *kwlist[] = {"tops", "clean_names", "replacement", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OS", kwlist, &PyTuple_Type, &tops, &clean, &replacement))
        return -1;
    Py_ssize_t n = PyTuple_GET_SIZE(tops);
    self->ntops = 0; /* until the whole table is read: a failed (re-)initialisation leaves a scanner that answers nothing */
    forget_routes(self);
    forget_cleared(self); /* another redactor may clear other names */
    if (n > MAX_TOPS) {
        PyErr_SetString(PyExc_ValueError, "too many top-level keys");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *top = PyTuple_GET_ITEM(tops, i), *field, *members;
        TopSpec *t = &self->tops[i];
        if (!PyArg_ParseTuple(top, "O!O", &PyTuple_Type, &field, &members) || field_from(field, &t->f) < 0)
            return -1;
        t->is_object = members != Py_None;
        t->nmembers = 0;
        if (t->is_object) {
            if (!PyTuple_Check(members) || PyTuple_GET_SIZE(members) > MAX_MEMBERS) {
                PyErr_SetString(PyExc_ValueError, "members: a tuple of at most 16 fields expected");
                return -1;
            }
            t->nmembers = (int)PyTuple_GET_SIZE(members);
            for (int j = 0; j < t->nmembers; j++)
                if (field_from(PyTuple_GET_ITEM(members, j), &t->members[j]) < 0)
                    return -1;
        }
    }
    self->ntops = (int)n;
    Py_XSETREF(self->replacement, Py_NewRef(replacement));
    Py_XSETREF(self->clean_names, clean == Py_None ? NULL : Py_NewRef(clean));
    return 0;
}

/* A window's bound as the memo keeps it: exactly SECOND_LEN ASCII bytes, else -1 (the memo is not used). */
static int
second_from(PyObject *text, char *out)
{
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(text, &n);
    if (s == NULL)
        return -2;
    if (n != SECOND_LEN)
        return -1;
    memcpy(out, s, SECOND_LEN);
    return 0;
}

static PyObject *
Scanner_remember_route(Scanner *self, PyObject *args)
{
    PyObject *tier, *timestamp, *prefix, *index, *owner, *window, *earliest, *latest;
    double until;
    if (!PyArg_ParseTuple(args, "UUSUOO:remember_route", &tier, &timestamp, &prefix, &index, &owner, &window))
        return NULL;
    /* exact types: releasing them runs no Python (a finaliser could otherwise see a half-written slot) */
    if (!PyUnicode_CheckExact(tier) || !PyUnicode_CheckExact(timestamp) || !PyBytes_CheckExact(prefix) ||
        !PyUnicode_CheckExact(index) || !PyTuple_CheckExact(window)) {
        PyErr_SetString(PyExc_TypeError, "remember_route(): str, str, bytes, str, router, tuple expected");
        return NULL;
    }
    if (!PyArg_ParseTuple(window, "UUd:remember_route's window", &earliest, &latest, &until))
        return NULL;
    Py_ssize_t tierlen, tslen;
    const char *tier_s = PyUnicode_AsUTF8AndSize(tier, &tierlen), *ts = PyUnicode_AsUTF8AndSize(timestamp, &tslen);
    if (tier_s == NULL || ts == NULL)
        return NULL;
    char first[SECOND_LEN], last[SECOND_LEN];
    int a = second_from(earliest, first), b = second_from(latest, last);
    if (a == -2 || b == -2)
        return NULL;
    /* a window or a key the memo cannot hold exactly: forget the window, so nothing stale is answered */
    if (a < 0 || b < 0 || tierlen >= MAX_KEY || tslen < SECOND_LEN + 1 || ts[tslen - 1] != 'Z') {
        forget_routes(self);
        Py_RETURN_FALSE;
    }
    int at = -1;
    for (int i = 0; i < self->nroutes && at < 0; i++)
        if (self->routes[i].tierlen == tierlen && memcmp(self->routes[i].tier, tier_s, (size_t)tierlen) == 0 &&
            memcmp(self->routes[i].day, ts, DAY_LEN) == 0)
            at = i;
    if (at < 0) { /* a new key: the next free slot, else the oldest filled */
        at = self->nroutes < MAX_ROUTES ? self->nroutes++ : self->next_route;
        self->next_route = (at + 1) % MAX_ROUTES;
    }
    /* everything written before anything is released (a release can run Python, which then sees a whole memo) */
    PyObject *old[4] = {self->owner, self->window, self->routes[at].prefix, self->routes[at].index};
    memcpy(self->earliest, first, SECOND_LEN);
    memcpy(self->latest, last, SECOND_LEN);
    self->until = until;
    self->owner = Py_NewRef(owner);
    self->window = Py_NewRef(window);
    memcpy(self->routes[at].tier, tier_s, (size_t)tierlen);
    self->routes[at].tierlen = tierlen;
    memcpy(self->routes[at].day, ts, DAY_LEN);
    self->routes[at].prefix = Py_NewRef(prefix);
    self->routes[at].index = Py_NewRef(index);
    self->generation++;
    for (int i = 0; i < 4; i++)
        Py_XDECREF(old[i]);
    Py_RETURN_TRUE;
}

static int
Scanner_traverse(Scanner *self, visitproc visit, void *arg)
{
    Py_VISIT(self->clean_names);
    Py_VISIT(self->replacement);
    Py_VISIT(self->owner);
    Py_VISIT(self->window);
    for (int i = 0; i < R_COUNT; i++)
        Py_VISIT(self->memo[i]);
    for (int i = 0; i < self->nroutes; i++) {
        Py_VISIT(self->routes[i].prefix);
        Py_VISIT(self->routes[i].index);
    }
    return 0;
}

static int
Scanner_clear(Scanner *self)
{
    self->ntops = 0; /* a cleared scanner answers nothing (clean_names NULL alone would mean "no redactor") */
    Py_CLEAR(self->clean_names);
    forget_routes(self);
    forget_cleared(self);
    return 0;
}

static void
Scanner_dealloc(Scanner *self)
{
    PyObject_GC_UnTrack(self);
    Scanner_clear(self);
    Py_XDECREF(self->replacement);
    for (int i = 0; i < R_COUNT; i++)
        Py_XDECREF(self->memo[i]);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* entry(head, id_json, line, id_end, ingested, suffix) -> head + id_json + '}}\n' + line[:id_end] + ingested +
 * line[id_end:-1] + suffix: agent/shipper.py's bulk entry of a line, in one copy (no slices of the line) */
static PyObject *
entry(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "entry() takes 6 arguments");
        return NULL;
    }
    for (int i = 0; i < 6; i++)
        if (i != 3 && !PyBytes_Check(args[i])) {
            PyErr_SetString(PyExc_TypeError, "entry(): bytes expected");
            return NULL;
        }
    Py_ssize_t id_end = PyLong_AsSsize_t(args[3]);
    if (id_end == -1 && PyErr_Occurred())
        return NULL;
    if (id_end < 0 || id_end >= PyBytes_GET_SIZE(args[2])) {
        PyErr_SetString(PyExc_ValueError, "entry(): id_end outside the line");
        return NULL;
    }
    return spliced(span_of(args[0]), span_of(args[1]), args[2], id_end, args[4], args[5]);
}

/* split_lines(out, data, held, offset) -> (offset, rest): agent/harvester.py's split of a chunk into lines, without a
 * Python frame per line. ``held`` (the partial line kept from the last read, no newline in it) joins the first line;
 * every complete line is appended to ``out`` as (its file offset, its bytes), ``offset`` being the first one's; the
 * result is the offset after the last complete line and the unterminated rest (``held`` + ``data`` when ``data``
 * holds no newline). Lines are not checked against any length bound: the caller calls this only when ``held`` and
 * ``data`` together cannot hold an overlong line. */
static PyObject *
split_lines(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyList_CheckExact(args[0]) || !PyBytes_CheckExact(args[1]) || !PyBytes_CheckExact(args[2])) {
        PyErr_SetString(PyExc_TypeError, "split_lines(out: list, data: bytes, held: bytes, offset: int) expected");
        return NULL;
    }
    PyObject *out = args[0], *data = args[1], *held = args[2];
    long long off = PyLong_AsLongLong(args[3]);
    if (off == -1 && PyErr_Occurred())
        return NULL;
    if (off < 0) {
        PyErr_SetString(PyExc_ValueError, "split_lines(): negative offset");
        return NULL;
    }
    const char *s = PyBytes_AS_STRING(data);
    Py_ssize_t n = PyBytes_GET_SIZE(data), h = PyBytes_GET_SIZE(held), pos = 0;
    for (;;) {
        const char *nl = memchr(s + pos, '\n', (size_t)(n - pos));
        if (nl == NULL)
            break;
        Py_ssize_t len = nl - (s + pos);
        PyObject *line;
        if (h) { /* the first line: the held part, then this chunk's */
            line = PyBytes_FromStringAndSize(NULL, h + len);
            if (line != NULL) {
                memcpy(PyBytes_AS_STRING(line), PyBytes_AS_STRING(held), (size_t)h);
                memcpy(PyBytes_AS_STRING(line) + h, s + pos, (size_t)len);
            }
            len += h;
            h = 0;
        }
        else {
            line = PyBytes_FromStringAndSize(s + pos, len);
        }
        if (line == NULL)
            return NULL;
        PyObject *at = PyLong_FromLongLong(off);
        PyObject *item = at == NULL ? NULL : PyTuple_New(2);
        if (item == NULL) {
            Py_XDECREF(at);
            Py_DECREF(line);
            return NULL;
        }
        PyTuple_SET_ITEM(item, 0, at);
        PyTuple_SET_ITEM(item, 1, line);
        int failed = PyList_Append(out, item);
        Py_DECREF(item);
        if (failed)
            return NULL;
        off += (long long)len + 1;
        pos = nl - s + 1;
    }
    PyObject *rest;
    if (h) {
        rest = PyBytes_FromStringAndSize(NULL, h + n - pos);
        if (rest != NULL) {
            memcpy(PyBytes_AS_STRING(rest), PyBytes_AS_STRING(held), (size_t)h);
            memcpy(PyBytes_AS_STRING(rest) + h, s + pos, (size_t)(n - pos));
        }
    }
    else if (pos == 0) {
        rest = Py_NewRef(data);
    }
    else {
        rest = PyBytes_FromStringAndSize(s + pos, n - pos);
    }
    if (rest == NULL)
        return NULL;
    return Py_BuildValue("(LN)", off, rest);
}

static PyMethodDef module_methods[] = {
    {"entry", (PyCFunction)(void (*)(void))entry, METH_FASTCALL,
     "entry(head, id_json, line, id_end, ingested, suffix) -> the bulk entry (agent/shipper.py ShipperFields.entry_at)"},
    {"split_lines", (PyCFunction)(void (*)(void))split_lines, METH_FASTCALL,
     "split_lines(out, data, held, offset) -> (offset, rest): a chunk's complete lines appended to out as "
     "(offset, line) (agent/harvester.py)"},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef Scanner_methods[] = {
    {"run", (PyCFunction)(void (*)(void))Scanner_run, METH_FASTCALL,
     PyDoc_STR("run(lines, start, key, path, block_end, room_events, room_bytes, ingested, suffix, suspect, ip_ok, "
               "entries, origins, stamps) -> (next, added, nbytes, end): the pass-through for a run of lines")},
    {"scan", (PyCFunction)Scanner_scan, METH_O,
     "scan(line) -> (event_id, timestamp, tier, stream, seq, id_json, id_end, ip, texts, prefix, index) or None "
     "(not sure); prefix and index are the route memo's, or None (route in Python)"},
    {"remember_route", (PyCFunction)Scanner_remember_route, METH_VARARGS,
     "remember_route(tier, timestamp, prefix, index, owner, window) -> whether it was kept: the router's answer "
     "for the tier and the \"...Z\" timestamp's day, and the router (whose bounds_window must stay this "
     "(earliest, latest, until) window; its bounds.clock is read per answer) (agent/fastpath.py)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "auditlog.agent._linescan.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The pass-through's line check in C for a field table (see agent/linescan.py).",
    .tp_traverse = (traverseproc)Scanner_traverse,
    .tp_clear = (inquiry)Scanner_clear,
    .tp_free = PyObject_GC_Del,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scanner_init,
    .tp_dealloc = (destructor)Scanner_dealloc,
    .tp_methods = Scanner_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_linescan",
    .m_doc = "The pass-through's line check in C (agent/linescan.py).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__linescan(void)
{
    init_interesting();
    if ((str_bounds_window == NULL && (str_bounds_window = PyUnicode_InternFromString("bounds_window")) == NULL) ||
        (str_bounds == NULL && (str_bounds = PyUnicode_InternFromString("bounds")) == NULL) ||
        (str_clock == NULL && (str_clock = PyUnicode_InternFromString("clock")) == NULL))
        return NULL;
    if (PyType_Ready(&ScannerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Scanner", (PyObject *)&ScannerType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
