/* The proxy's recording hot path in C: job ids, and the two events of a plain
 * job (submitted, done) formatted straight into the current memory-mapped spool
 * segment.
 *
 * Why C: next to a simulator job, every Python operation the proxy runs costs
 * 3-10x its hot-loop time (the job evicts the caches it touches), so the
 * overhead is set by how many operations run, not by what they do. The same
 * work here is one call per event. Measured on a 1-qubit 1-shot Aer job
 * (~450 us): a minimal Python proxy adds ~11 %, the same with this module ~4 %.
 *
 * Every function writes byte for byte what the Python path writes
 * (collector/spool_format.py, SpoolRecorder.submitted); tests compare the two.
 * Anything outside the plain shape returns "not mine" and the caller takes the
 * Python path, which also names what is wrong.
 *
 * Concurrency: callers hold the GIL, and no function here runs Python code
 * between choosing its write position and publishing the new end, so appends
 * from several threads never interleave. Python code that can run (attribute
 * lookups on a Result) runs before that section.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include "structmember.h"

/* ------------------------------------------------------------------ job ids */

static char id_prefix[24] = "00000000-0000-4000-8000-";
static unsigned long long id_counter = 0;
static const char HEX[] = "0123456789abcdef";

static PyObject *
new_job_id(PyObject *module, PyObject *unused)
{
    char buf[36];
    memcpy(buf, id_prefix, 24);
    unsigned long long c = id_counter++;
    for (int i = 35; i >= 24; i--) {
        buf[i] = HEX[c & 15];
        c >>= 4;
    }
    return PyUnicode_FromStringAndSize(buf, 36);
}

static PyObject *
set_job_id_prefix(PyObject *module, PyObject *arg)
{
    Py_ssize_t n;
    const char *s = PyUnicode_Check(arg) ? PyUnicode_AsUTF8AndSize(arg, &n) : NULL;
    if (s == NULL || n != 24) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "job id prefix: expected a 24-character str");
        return NULL;
    }
    memcpy(id_prefix, s, 24);
    id_counter = 0;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ writing */

typedef struct {
    char *p;
    char *end;
} Out;

static inline int
put(Out *o, const char *s, Py_ssize_t n)
{
    if (o->end - o->p < n)
        return -1;
    memcpy(o->p, s, (size_t)n);
    o->p += n;
    return 0;
}

#define PUT_LIT(o, s) put(o, s, (Py_ssize_t)sizeof(s) - 1)

/* str(int); by hand (snprintf costs more, and is locale-dependent). */
static inline int
put_ll(Out *o, long long v)
{
    char tmp[24];
    char *end = tmp + sizeof tmp, *p = end;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return put(o, p, end - p);
}

/* repr(float): the shortest round-tripping form, as Python prints it. */
static inline int
put_double(Out *o, double d)
{
    char *s = PyOS_double_to_string(d, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (s == NULL)
        return -2;
    int r = put(o, s, (Py_ssize_t)strlen(s));
    PyMem_Free(s);
    return r;
}

/* spool_format.time_literal: seconds as integer nanoseconds with an exponent,
 * a JSON number that reads back as the float (repr() of a float costs ~1 us,
 * most of an event). Outside 0..9e9 s (never an epoch or a duration): repr. */
static inline int
put_seconds(Out *o, double seconds)
{
    if (seconds >= 0.0 && seconds < 9e9)
        return put_ll(o, (long long)(seconds * 1e9)) || PUT_LIT(o, "e-9");
    return put_double(o, seconds);
}

/* repr() of a price, with the common 0.0 written directly. */
static inline int
put_cost(Out *o, double cost)
{
    if (cost == 0.0 && !signbit(cost))
        return PUT_LIT(o, "0.0");
    return put_double(o, cost);
}

/* A str that JSON and the tab-separated record can carry between quotes as it
 * is: ASCII letters, digits and '-' (generated ids, uuids). NULL otherwise. */
static const char *
plain_id(PyObject *s, Py_ssize_t *n)
{
    if (!PyUnicode_CheckExact(s) || !PyUnicode_IS_ASCII(s))
        return NULL;
    const char *p = (const char *)PyUnicode_DATA(s);
    *n = PyUnicode_GET_LENGTH(s);
    int alnum = 0;
    for (Py_ssize_t i = 0; i < *n; i++) {
        char c = p[i];
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            alnum = 1;
        else if (c != '-')
            return NULL;
    }
    /* Python's json_str quotes by hand only when something is left after
     * removing '-' (str.isalnum() of "" is False); "" goes through json.dumps,
     * which gives the same two quotes. A bare "---" would not: decline it. */
    return (alnum || *n == 0) ? p : NULL;
}

/* ------------------------------------------------------------------ Appender */

typedef struct {
    PyObject_HEAD
    Py_buffer view;
    int attached;
    Py_ssize_t pos;
    Py_ssize_t limit;
} Appender;

static int
Appender_init(Appender *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, ":Appender", kwlist))
        return -1;
    return 0;
}

static void
release(Appender *self)
{
    if (self->attached) {
        PyBuffer_Release(&self->view);
        self->attached = 0;
    }
}

static void
Appender_dealloc(Appender *self)
{
    release(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Appender_attach(Appender *self, PyObject *args)
{
    PyObject *buffer;
    Py_ssize_t pos = 0;
    if (!PyArg_ParseTuple(args, "O|n:attach", &buffer, &pos))
        return NULL;
    release(self);
    if (PyObject_GetBuffer(buffer, &self->view, PyBUF_WRITABLE | PyBUF_SIMPLE) < 0)
        return NULL;
    if (pos < 0 || pos > self->view.len) {
        PyBuffer_Release(&self->view);
        PyErr_Format(PyExc_ValueError, "attach: pos must be within 0..%zd, got %zd",
                     self->view.len, pos);
        return NULL;
    }
    self->attached = 1;
    self->pos = pos;
    self->limit = self->view.len;
    Py_RETURN_NONE;
}

static PyObject *
Appender_detach(Appender *self, PyObject *unused)
{
    Py_ssize_t pos = self->pos;
    release(self);
    return PyLong_FromSsize_t(pos);
}

/* Where a line of up to `room` bytes can go, or NULL (detached / full / over the
 * pending limit). */
static inline int
begin(Appender *self, Out *o)
{
    if (!self->attached)
        return -1;
    Py_ssize_t end = self->limit < self->view.len ? self->limit : self->view.len;
    if (end <= self->pos)
        return -1;
    o->p = (char *)self->view.buf + self->pos;
    o->end = (char *)self->view.buf + end;
    return 0;
}

/* Publish a complete line, or wipe a partial one (the mapping past the data
 * stays zero: readers stop at the first NUL). */
static inline PyObject *
finish(Appender *self, Out *o, int err)
{
    char *start = (char *)self->view.buf + self->pos;
    if (err) {
        memset(start, 0, (size_t)(o->p - start));
        if (err == -2)
            return NULL;
        Py_RETURN_FALSE;
    }
    self->pos += o->p - start;
    Py_RETURN_TRUE;
}

static PyObject *
Appender_append(Appender *self, PyObject *arg)
{
    char *data;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(arg, &data, &n) < 0)
        return NULL;
    Out o;
    if (begin(self, &o) < 0)
        Py_RETURN_FALSE;
    return finish(self, &o, put(&o, data, n));
}

static PyObject *s_results, *s_header, *s_memory_slots, *s_data, *s_counts, *s_shots,
    *s_success, *s_metadata, *s_time_taken;
static PyTypeObject AppenderType;

/* run_seconds(result) -> float | None: Result.time_taken without the cost of
 * Result.__getattr__ (it raises and catches for every miss). */
static PyObject *
float_or_none(PyObject *value)
{
    /* A duration is a finite number >= 0; anything else (a provider's missing
     * duration turned inf or nan) is unknown, never a JSON Infinity. */
    if (PyFloat_CheckExact(value)) {
        double v = PyFloat_AS_DOUBLE(value);
        if (isfinite(v) && v >= 0.0)
            return Py_NewRef(value);
        Py_RETURN_NONE;
    }
    if (PyLong_CheckExact(value)) {
        PyObject *out = PyNumber_Float(value);
        if (out == NULL || (isfinite(PyFloat_AS_DOUBLE(out)) && PyFloat_AS_DOUBLE(out) >= 0.0))
            return out;
        Py_DECREF(out);
    }
    Py_RETURN_NONE;
}

static PyObject *
run_seconds(PyObject *module, PyObject *result)
{
    PyObject *dict = PyObject_GenericGetDict(result, NULL);
    if (dict == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return NULL;
        PyErr_Clear();
    }
    else {
        PyObject *metadata = PyDict_GetItemWithError(dict, s_metadata);
        PyObject *value = NULL;
        if (metadata != NULL && PyDict_CheckExact(metadata))
            value = PyDict_GetItemWithError(metadata, s_time_taken);
        if (value == NULL && !PyErr_Occurred())
            value = PyDict_GetItemWithError(dict, s_time_taken);
        if (value != NULL) {
            PyObject *out = float_or_none(value);
            Py_DECREF(dict);
            return out;
        }
        Py_DECREF(dict);
        if (PyErr_Occurred())
            return NULL;
    }
    PyObject *value = PyObject_GetAttr(result, s_time_taken);
    if (value == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return NULL;
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    PyObject *out = float_or_none(value);
    Py_DECREF(value);
    return out;
}

/* What done() gathers about one circuit before it writes anything. */
typedef struct {
    PyObject *counts; /* exact dict, new reference */
    long long width;
    long long shots;
} Experiment;

#define SMALL_EXPERIMENTS 8

static void
drop_experiments(Experiment *exps, Py_ssize_t n, Experiment *small)
{
    for (Py_ssize_t i = 0; i < n; i++)
        Py_XDECREF(exps[i].counts);
    if (exps != small)
        PyMem_Free(exps);
}

/* An exact non-negative int as a C long long; -1 for anything else. */
static long long
nonneg_int(PyObject *value)
{
    if (value == NULL || !PyLong_CheckExact(value))
        return -1;
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow || v < 0)
        return -1;
    return v;
}

/* Phase 1 of done(): read the result (may run Python code). 1 plain, 0 not
 * plain, -1 error. */
static int
gather(long long default_shots, Experiment *exps, Py_ssize_t n,
       PyObject *results)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *exp = PyList_GET_ITEM(results, i);
        PyObject *header = PyObject_GetAttr(exp, s_header);
        if (header == NULL)
            return PyErr_ExceptionMatches(PyExc_AttributeError) ? (PyErr_Clear(), 0) : -1;
        PyObject *width_obj;
        if (PyDict_CheckExact(header)) {
            width_obj = PyDict_GetItemWithError(header, s_memory_slots);
            Py_XINCREF(width_obj);
        }
        else {
            width_obj = PyObject_GetAttr(header, s_memory_slots);
        }
        Py_DECREF(header);
        if (width_obj == NULL) {
            if (PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_AttributeError))
                return -1;
            PyErr_Clear();
            return 0;
        }
        exps[i].width = nonneg_int(width_obj);
        Py_DECREF(width_obj);
        if (exps[i].width < 0)
            return 0;
        /* Python: total must equal (exp.shots or shots). */
        PyObject *shots_obj = PyObject_GetAttr(exp, s_shots);
        if (shots_obj == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError))
                return -1;
            PyErr_Clear();
            return 0;
        }
        if (shots_obj == Py_None) {
            exps[i].shots = default_shots;
        }
        else {
            long long s = nonneg_int(shots_obj);
            exps[i].shots = s == 0 ? default_shots : s;
        }
        Py_DECREF(shots_obj);
        if (exps[i].shots < 0)
            return 0;
        PyObject *data = PyObject_GetAttr(exp, s_data);
        if (data == NULL)
            return PyErr_ExceptionMatches(PyExc_AttributeError) ? (PyErr_Clear(), 0) : -1;
        PyObject *counts = PyObject_GetAttr(data, s_counts);
        Py_DECREF(data);
        if (counts == NULL)
            return PyErr_ExceptionMatches(PyExc_AttributeError) ? (PyErr_Clear(), 0) : -1;
        exps[i].counts = counts;
        if (!PyDict_CheckExact(counts))
            return 0;
    }
    return 1;
}

/* Phase 2: check one counts dict (hex keys that fit the width, exact int
 * values summing to the shots) and write its repr. No Python code runs here.
 * 0 ok, 1 not plain, -1 no room. */
static int
write_counts(Out *o, const Experiment *e, int write)
{
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    long long total = 0;
    int first = 1;
    if (write && PUT_LIT(o, "{"))
        return -1;
    while (PyDict_Next(e->counts, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key) || !PyUnicode_IS_ASCII(key) || !PyLong_CheckExact(value))
            return 1;
        const char *k = (const char *)PyUnicode_DATA(key);
        Py_ssize_t kn = PyUnicode_GET_LENGTH(key);
        if (kn < 3 || k[0] != '0' || k[1] != 'x')
            return 1;
        /* The key's bit length, whatever its number of digits. */
        long long bits = 0;
        for (Py_ssize_t j = 2; j < kn; j++) {
            char c = k[j];
            int d;
            if (c >= '0' && c <= '9')
                d = c - '0';
            else if (c >= 'a' && c <= 'f')
                d = c - 'a' + 10;
            else
                return 1; /* int(key, 16) takes 'A'-'F' and '_' too: the Python path decides */
            if (bits == 0) {
                while (d >> bits)
                    bits++;
            }
            else {
                bits += 4;
            }
        }
        if (bits > e->width)
            return 1;
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow || v < 0 || total > LLONG_MAX - v)
            return 1;
        total += v;
        if (write) {
            if ((!first && PUT_LIT(o, ", ")) || PUT_LIT(o, "'") || put(o, k, kn) ||
                PUT_LIT(o, "': ") || put_ll(o, v))
                return -1;
        }
        first = 0;
    }
    if (total != e->shots)
        return 1;
    if (write && PUT_LIT(o, "}"))
        return -1;
    return 0;
}

/* The finish record of a plain successful job (spool_format.format_done),
 * validated like spool_format.hex_counts. 1: written. 0: not plain (the Python
 * path names what is wrong). -1: plain, but no room in the segment (the Python
 * path rotates it). -2: an exception is set. */
static int
write_done(Appender *self, PyObject *job_id, long long finished_ns, PyObject *result,
           long long shots, long long attempts, double cost, PyObject *provider_job_id,
           int record_counts)
{
    Py_ssize_t id_n, pid_n;
    const char *id = plain_id(job_id, &id_n);
    const char *pid = plain_id(provider_job_id, &pid_n);
    if (id == NULL || pid == NULL || id_n == 0)
        return 0;
    PyObject *success = PyObject_GetAttr(result, s_success);
    if (success == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return -2;
        PyErr_Clear();
    }
    else {
        int failed = success == Py_False;
        Py_DECREF(success);
        if (failed)
            return 0;
    }
    PyObject *run_s = run_seconds(NULL, result);
    if (run_s == NULL)
        return -2;
    PyObject *results = PyObject_GetAttr(result, s_results);
    if (results == NULL) {
        Py_DECREF(run_s);
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return -2;
        PyErr_Clear();
        return 0;
    }
    Py_ssize_t n = PyList_CheckExact(results) ? PyList_GET_SIZE(results) : 0;
    if (n == 0) {
        Py_DECREF(results);
        Py_DECREF(run_s);
        return 0;
    }
    Experiment small[SMALL_EXPERIMENTS];
    Experiment *exps = n <= SMALL_EXPERIMENTS ? small : PyMem_Calloc((size_t)n, sizeof(Experiment));
    if (exps == NULL) {
        Py_DECREF(results);
        Py_DECREF(run_s);
        PyErr_NoMemory();
        return -2;
    }
    memset(exps, 0, sizeof(Experiment) * (size_t)n);
    int plain = gather(shots, exps, n, results);
    Py_DECREF(results);
    int rc = plain < 0 ? -2 : 0;
    if (plain <= 0)
        goto done;
    /* Phase 2: no Python code from here to the end of the write. */
    for (Py_ssize_t i = 0; i < n; i++) {
        if (write_counts(NULL, &exps[i], 0) != 0)
            goto done; /* rc 0: not plain */
    }
    Out o;
    if (begin(self, &o) < 0) {
        rc = -1;
        goto done;
    }
    char *start = o.p;
    int err = PUT_LIT(&o, "F\t") || put(&o, id, id_n) || PUT_LIT(&o, "\t") ||
              put_ll(&o, finished_ns) || PUT_LIT(&o, "\t");
    if (!err && run_s != Py_None)
        err = put_seconds(&o, PyFloat_AS_DOUBLE(run_s));
    if (!err)
        err = PUT_LIT(&o, "\t") || put_ll(&o, attempts) || PUT_LIT(&o, "\t");
    if (!err)
        err = put_cost(&o, cost);
    if (!err)
        err = PUT_LIT(&o, "\t\"") || put(&o, pid, pid_n) || PUT_LIT(&o, "\"\t");
    for (Py_ssize_t i = 0; !err && i < n; i++)
        err = (i > 0 && PUT_LIT(&o, ",")) || put_ll(&o, exps[i].width);
    if (!err)
        err = PUT_LIT(&o, "\t");
    if (!err && record_counts) {
        err = PUT_LIT(&o, "[");
        for (Py_ssize_t i = 0; !err && i < n; i++) {
            err = i > 0 && PUT_LIT(&o, ", ");
            if (!err)
                err = write_counts(&o, &exps[i], 1) != 0;
        }
        if (!err)
            err = PUT_LIT(&o, "]");
    }
    if (!err)
        err = PUT_LIT(&o, "\n");
    if (err) {
        memset(start, 0, (size_t)(o.p - start));
        rc = PyErr_Occurred() ? -2 : -1;
    }
    else {
        self->pos += o.p - start;
        rc = 1;
    }
done:
    drop_experiments(exps, n, small);
    Py_DECREF(run_s);
    return rc;
}

/* done(job_id, finished_ns, result, shots, attempts, cost_usd, provider_job_id,
 *      record_counts) -> int: write_done's 1 written, 0 not plain, -1 no room. */
static PyObject *
Appender_done(Appender *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "done() takes exactly 8 arguments");
        return NULL;
    }
    long long finished_ns = PyLong_AsLongLong(args[1]);
    long long shots = PyLong_AsLongLong(args[3]);
    long long attempts = PyLong_AsLongLong(args[4]);
    double cost = PyFloat_AsDouble(args[5]);
    int record_counts = PyObject_IsTrue(args[7]);
    if (PyErr_Occurred())
        return NULL;
    int rc = write_done(self, args[0], finished_ns, args[2], shots, attempts, cost, args[6],
                        record_counts);
    return rc == -2 ? NULL : PyLong_FromLong(rc);
}

/* ------------------------------------------------------------------ clocks */

static PyObject *time_time; /* time.time: read the system clock directly instead */

/* Epoch seconds from `clock` (a callable returning them), or from the system
 * clock when `clock` is time.time. -1.0 with an exception set on error. */
static double
clock_seconds(PyObject *clock)
{
    if (clock == time_time) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    }
    PyObject *value = PyObject_CallNoArgs(clock);
    if (value == NULL)
        return -1.0;
    double seconds = PyFloat_AsDouble(value);
    Py_DECREF(value);
    return seconds;
}

/* ------------------------------------------------------------------ Finisher */

enum { PENDING, RECORDING, RECORDED, DECLINED, CLAIMED };

typedef struct {
    PyObject_HEAD
    Appender *appender;
    PyObject *job_id;
    double submitted_s;
    long long shots;
    long long attempts;
    int record_counts;
    int state;
    PyObject *clock;
    PyObject *sink; /* called once as sink((job_id, info)) by hand_over() */
    PyObject *info;
} Finisher;

static PyTypeObject FinisherType;

static int
Finisher_traverse(Finisher *self, visitproc visit, void *arg)
{
    Py_VISIT(self->appender);
    Py_VISIT(self->clock);
    Py_VISIT(self->sink);
    Py_VISIT(self->info);
    return 0;
}

static int
Finisher_clear(Finisher *self)
{
    Py_CLEAR(self->appender);
    Py_CLEAR(self->job_id);
    Py_CLEAR(self->clock);
    Py_CLEAR(self->sink);
    Py_CLEAR(self->info);
    return 0;
}

static void
Finisher_dealloc(Finisher *self)
{
    PyObject_GC_UnTrack(self);
    Finisher_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Finisher *
new_finisher(Appender *appender, PyObject *job_id, double submitted_s, long long shots,
             int record_counts, PyObject *clock, PyObject *sink, PyObject *info)
{
    Finisher *f = PyObject_GC_New(Finisher, &FinisherType);
    if (f == NULL)
        return NULL;
    f->appender = (Appender *)Py_NewRef(appender);
    f->job_id = Py_NewRef(job_id);
    f->submitted_s = submitted_s;
    f->shots = shots;
    f->attempts = 1;
    f->record_counts = record_counts;
    f->state = PENDING;
    f->clock = Py_NewRef(clock);
    f->sink = sink == Py_None ? NULL : Py_NewRef(sink);
    f->info = sink == Py_None ? NULL : Py_NewRef(info);
    PyObject_GC_Track(f);
    return f;
}

static PyObject *
Finisher_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"appender", "job_id", "submitted_s", "shots", "record_counts",
                             "clock", "sink", "info", NULL};
    PyObject *appender, *job_id, *clock, *sink = Py_None, *info = Py_None;
    double submitted_s;
    long long shots;
    int record_counts;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!UdLpO|OO:Finisher", kwlist, &AppenderType, &appender,
                                     &job_id, &submitted_s, &shots, &record_counts, &clock,
                                     &sink, &info))
        return NULL;
    return (PyObject *)new_finisher((Appender *)appender, job_id, submitted_s, shots,
                                    record_counts, clock, sink, info);
}

/* Hand the job's circuits to the sink, once, as the pair (job_id, info). */
static int
hand_over(Finisher *self)
{
    PyObject *sink = self->sink, *info = self->info;
    if (sink == NULL)
        return 0;
    self->sink = self->info = NULL;
    PyObject *pair = PyTuple_Pack(2, self->job_id, info);
    PyObject *r = pair == NULL ? NULL : PyObject_CallOneArg(sink, pair);
    Py_XDECREF(pair);
    Py_DECREF(sink);
    Py_DECREF(info);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static PyObject *
Finisher_hand_over(Finisher *self, PyObject *unused)
{
    if (hand_over(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *s_exception, *s_result, *s_job_id;

/* The completion callback: future is the job's concurrent.futures.Future, done.
 * Records the end of a plain successful job; anything else is declined and left
 * to ProxyJob.result(). Never raises (the worker thread would only log it). */
static PyObject *
Finisher_call(Finisher *self, PyObject *args, PyObject *kwds)
{
    PyObject *future;
    if (!PyArg_ParseTuple(args, "O", &future))
        return NULL;
    if (self->state != PENDING)
        Py_RETURN_NONE;
    self->state = RECORDING;
    int state = DECLINED;
    PyObject *error = NULL, *result = NULL, *provider_job_id = NULL;
    if (hand_over(self) < 0)
        goto out;
    /* The learning step (ExecutionProxy._job_kind) checked that the job's result()
     * is this future's _result and its id the result's job_id. */
    error = PyObject_GetAttr(future, s_exception);
    if (error == NULL || error != Py_None)
        goto out;
    result = PyObject_GetAttr(future, s_result);
    if (result == NULL)
        goto out;
    provider_job_id = PyObject_GetAttr(result, s_job_id);
    if (provider_job_id == NULL)
        goto out;
    double now_s = clock_seconds(self->clock);
    if (now_s == -1.0 && PyErr_Occurred())
        goto out;
    int rc = write_done(self->appender, self->job_id, (long long)(now_s * 1e9), result,
                        self->shots, self->attempts, 0.0, provider_job_id, self->record_counts);
    if (rc == 1)
        state = RECORDED;
out:
    Py_XDECREF(error);
    Py_XDECREF(result);
    Py_XDECREF(provider_job_id);
    PyErr_Clear(); /* declined: result() takes the general path, which reports problems */
    self->state = state;
    Py_RETURN_NONE;
}

/* claim() -> True: the caller records the end (nobody has); False: recorded or
 * claimed already; None: the callback is recording it right now (ask again). */
static PyObject *
Finisher_claim(Finisher *self, PyObject *unused)
{
    switch (self->state) {
    case PENDING:
    case DECLINED:
        self->state = CLAIMED;
        Py_RETURN_TRUE;
    case RECORDING:
        Py_RETURN_NONE;
    default:
        Py_RETURN_FALSE;
    }
}

static PyObject *
Finisher_get_recorded(Finisher *self, void *closure)
{
    return PyBool_FromLong(self->state == RECORDED);
}

static PyMemberDef Finisher_members[] = {
    {"job_id", T_OBJECT_EX, offsetof(Finisher, job_id), READONLY, "the qsre job id"},
    {"submitted_s", T_DOUBLE, offsetof(Finisher, submitted_s), READONLY,
     "submission time, epoch seconds"},
    {"attempts", T_LONGLONG, offsetof(Finisher, attempts), 0,
     "attempts so far (the callback records it)"},
    {NULL},
};

static PyGetSetDef Finisher_getset[] = {
    {"recorded", (getter)Finisher_get_recorded, NULL, "the callback recorded the end", NULL},
    {NULL},
};

static PyMethodDef Finisher_methods[] = {
    {"claim", (PyCFunction)Finisher_claim, METH_NOARGS,
     "claim() -> True (record it yourself), False (done already), None (in progress)"},
    {"hand_over", (PyCFunction)Finisher_hand_over, METH_NOARGS,
     "hand_over(): call sink((job_id, info)) if not done yet"},
    {NULL},
};

static PyTypeObject FinisherType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "collector._fastspool.Finisher",
    .tp_basicsize = sizeof(Finisher),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One job's ticket: its id and submission time, and the completion "
              "callback that records its end.",
    .tp_new = Finisher_new,
    .tp_dealloc = (destructor)Finisher_dealloc,
    .tp_traverse = (traverseproc)Finisher_traverse,
    .tp_clear = (inquiry)Finisher_clear,
    .tp_call = (ternaryfunc)Finisher_call,
    .tp_members = Finisher_members,
    .tp_getset = Finisher_getset,
    .tp_methods = Finisher_methods,
};

/* ------------------------------------------------------------------ JobStarter */

/* What one wrapper's jobs share (the recorder, the static JSON members, the
 * clock, the sink for circuits, the cached calibration time), so that starting a
 * job is one call with what differs. */
typedef struct {
    PyObject_HEAD
    Appender *appender;
    PyObject *static_members; /* bytes */
    PyObject *clock;
    PyObject *sink;
    int record_counts;
    int has_calibration;
    double calibration_s;
    double calibration_from_s;
    double calibration_until_s;
} JobStarter;

static int
JobStarter_traverse(JobStarter *self, visitproc visit, void *arg)
{
    Py_VISIT(self->appender);
    Py_VISIT(self->clock);
    Py_VISIT(self->sink);
    return 0;
}

static int
JobStarter_clear(JobStarter *self)
{
    Py_CLEAR(self->appender);
    Py_CLEAR(self->static_members);
    Py_CLEAR(self->clock);
    Py_CLEAR(self->sink);
    return 0;
}

static void
JobStarter_dealloc(JobStarter *self)
{
    PyObject_GC_UnTrack(self);
    JobStarter_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
JobStarter_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"appender", "static", "clock", "record_counts", "sink", NULL};
    PyObject *appender, *static_members, *clock, *sink = Py_None;
    int record_counts;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!SOp|O:JobStarter", kwlist, &AppenderType,
                                     &appender, &static_members, &clock, &record_counts, &sink))
        return NULL;
    JobStarter *self = (JobStarter *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->appender = (Appender *)Py_NewRef(appender);
    self->static_members = Py_NewRef(static_members);
    self->clock = Py_NewRef(clock);
    self->sink = Py_NewRef(sink);
    self->record_counts = record_counts;
    self->calibration_from_s = INFINITY; /* no cached calibration: begin() declines */
    self->calibration_until_s = -INFINITY;
    return (PyObject *)self;
}

/* set_calibration(calibration_s, valid_from_s, valid_until_s): the backend's
 * calibration time (or None), as looked up; begin() uses it while valid. */
static PyObject *
JobStarter_set_calibration(JobStarter *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "set_calibration() takes exactly 3 arguments");
        return NULL;
    }
    double cal_s = 0.0;
    if (args[0] != Py_None) {
        cal_s = PyFloat_AsDouble(args[0]);
        if (cal_s == -1.0 && PyErr_Occurred())
            return NULL;
    }
    double from_s = PyFloat_AsDouble(args[1]);
    double until_s = PyFloat_AsDouble(args[2]);
    if (PyErr_Occurred())
        return NULL;
    self->has_calibration = args[0] != Py_None;
    self->calibration_s = cal_s;
    self->calibration_from_s = from_s;
    self->calibration_until_s = until_s;
    Py_RETURN_NONE;
}

/* begin(shots, num_circuits, idempotency_key, circuits) -> Finisher | None
 * A new job: an id, the time, its submitted event (SpoolRecorder.submitted's
 * bytes), and its ticket, which hands `circuits` to the sink once. None, with
 * nothing written, when the cached calibration time is not valid now, the key
 * needs escaping or the segment has no room: the caller takes the Python path. */
static PyObject *
JobStarter_begin(JobStarter *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "begin() takes exactly 4 arguments");
        return NULL;
    }
    long long shots = PyLong_AsLongLong(args[0]);
    long long num_circuits = PyLong_AsLongLong(args[1]);
    if (PyErr_Occurred())
        return NULL;
    const char *key = NULL;
    Py_ssize_t key_n = 0;
    if (args[2] != Py_None) {
        key = plain_id(args[2], &key_n);
        if (key == NULL || key_n == 0)
            Py_RETURN_NONE;
    }
    double now_s = clock_seconds(self->clock);
    if (now_s == -1.0 && PyErr_Occurred())
        return NULL;
    if (!(self->calibration_from_s <= now_s && now_s < self->calibration_until_s))
        Py_RETURN_NONE;
    /* Allocated before the write position is chosen: nothing between choosing
     * it and publishing the new end may run Python code (or the cyclic GC). */
    PyObject *job_id = new_job_id(NULL, NULL);
    if (job_id == NULL)
        return NULL;
    Out o;
    if (begin(self->appender, &o) < 0) {
        Py_DECREF(job_id);
        Py_RETURN_NONE;
    }
    const char *id = (const char *)PyUnicode_DATA(job_id);
    Py_ssize_t id_n = PyUnicode_GET_LENGTH(job_id);
    if (key == NULL) {
        key = id;
        key_n = id_n;
    }
    char *start = o.p;
    int err = PUT_LIT(&o, "{\"e\":\"s\",\"id\":\"") || put(&o, id, id_n) ||
              PUT_LIT(&o, "\",\"status\":\"queued\",\"submitted_at\":") ||
              put_seconds(&o, now_s) || PUT_LIT(&o, ",") ||
              put(&o, PyBytes_AS_STRING(self->static_members),
                  PyBytes_GET_SIZE(self->static_members)) ||
              PUT_LIT(&o, ",\"shots\":") || put_ll(&o, shots) ||
              PUT_LIT(&o, ",\"num_circuits\":") || put_ll(&o, num_circuits) ||
              PUT_LIT(&o, ",\"idempotency_key\":\"") || put(&o, key, key_n) ||
              PUT_LIT(&o, "\",\"calibration_at\":");
    if (!err)
        err = self->has_calibration ? put_seconds(&o, self->calibration_s) : PUT_LIT(&o, "null");
    if (!err)
        err = PUT_LIT(&o, "}\n");
    if (err) {
        memset(start, 0, (size_t)(o.p - start));
        Py_DECREF(job_id);
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    self->appender->pos += o.p - start;
    Finisher *f = new_finisher(self->appender, job_id, now_s, shots, self->record_counts,
                               self->clock, self->sink, args[3]);
    Py_DECREF(job_id);
    return (PyObject *)f;
}

static PyMethodDef JobStarter_methods[] = {
    {"begin", (PyCFunction)(void (*)(void))JobStarter_begin, METH_FASTCALL,
     "begin(shots, num_circuits, idempotency_key, circuits) -> Finisher | None"},
    {"set_calibration", (PyCFunction)(void (*)(void))JobStarter_set_calibration, METH_FASTCALL,
     "set_calibration(calibration_s, valid_from_s, valid_until_s)"},
    {NULL},
};

static PyTypeObject JobStarterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "collector._fastspool.JobStarter",
    .tp_basicsize = sizeof(JobStarter),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Starts the jobs of one wrapper: JobStarter(appender, static, clock, "
              "record_counts, sink).",
    .tp_new = JobStarter_new,
    .tp_dealloc = (destructor)JobStarter_dealloc,
    .tp_traverse = (traverseproc)JobStarter_traverse,
    .tp_clear = (inquiry)JobStarter_clear,
    .tp_methods = JobStarter_methods,
};

static PyObject *
Appender_get_pos(Appender *self, void *closure)
{
    return PyLong_FromSsize_t(self->pos);
}

static PyObject *
Appender_get_attached(Appender *self, void *closure)
{
    return PyBool_FromLong(self->attached);
}

static PyObject *
Appender_get_limit(Appender *self, void *closure)
{
    return PyLong_FromSsize_t(self->limit);
}

static int
Appender_set_limit(Appender *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "limit cannot be deleted");
        return -1;
    }
    Py_ssize_t limit = PyLong_AsSsize_t(value);
    if (limit == -1 && PyErr_Occurred())
        return -1;
    self->limit = limit;
    return 0;
}

static PyGetSetDef Appender_getset[] = {
    {"pos", (getter)Appender_get_pos, NULL, "bytes of whole events in the attached segment", NULL},
    {"attached", (getter)Appender_get_attached, NULL, "whether a segment is attached", NULL},
    {"limit", (getter)Appender_get_limit, (setter)Appender_set_limit,
     "appends must end at or before this position (the pending-bytes bound)", NULL},
    {NULL},
};

static PyMethodDef Appender_methods[] = {
    {"attach", (PyCFunction)Appender_attach, METH_VARARGS,
     "attach(buffer, pos=0): append into this writable buffer from pos"},
    {"detach", (PyCFunction)Appender_detach, METH_NOARGS,
     "detach() -> int: release the buffer; returns the data end"},
    {"append", (PyCFunction)Appender_append, METH_O, "append(line) -> bool"},
    {"done", (PyCFunction)(void (*)(void))Appender_done, METH_FASTCALL,
     "done(job_id, finished_ns, result, shots, attempts, cost_usd, provider_job_id, "
     "record_counts) -> 1 written, 0 not plain, -1 no room"},
    {NULL},
};

static PyTypeObject AppenderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "collector._fastspool.Appender",
    .tp_basicsize = sizeof(Appender),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Appends spool events into a memory-mapped segment.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Appender_init,
    .tp_dealloc = (destructor)Appender_dealloc,
    .tp_methods = Appender_methods,
    .tp_getset = Appender_getset,
};

static PyMethodDef module_methods[] = {
    {"new_job_id", new_job_id, METH_NOARGS, "new_job_id() -> str"},
    {"set_job_id_prefix", set_job_id_prefix, METH_O,
     "set_job_id_prefix(prefix): the 24-character prefix; restarts the counter"},
    {"run_seconds", run_seconds, METH_O, "run_seconds(result) -> float | None"},
    {NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "collector._fastspool",
    "The proxy's recording hot path in C (see collector/spool_format.py for the format).", -1,
    module_methods,
};

#define INTERN(var, text)                               \
    do {                                                \
        if ((var = PyUnicode_InternFromString(text)) == NULL) \
            return NULL;                                \
    } while (0)

PyMODINIT_FUNC
PyInit__fastspool(void)
{
    INTERN(s_results, "results");
    INTERN(s_header, "header");
    INTERN(s_memory_slots, "memory_slots");
    INTERN(s_data, "data");
    INTERN(s_counts, "counts");
    INTERN(s_shots, "shots");
    INTERN(s_success, "success");
    INTERN(s_metadata, "_metadata");
    INTERN(s_time_taken, "time_taken");
    INTERN(s_exception, "_exception");
    INTERN(s_result, "_result");
    INTERN(s_job_id, "job_id");
    PyObject *time_module = PyImport_ImportModule("time");
    if (time_module == NULL)
        return NULL;
    time_time = PyObject_GetAttrString(time_module, "time");
    Py_DECREF(time_module);
    if (time_time == NULL)
        return NULL;
    if (PyType_Ready(&AppenderType) < 0 || PyType_Ready(&FinisherType) < 0 ||
        PyType_Ready(&JobStarterType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
    if (PyModule_AddObjectRef(module, "Appender", (PyObject *)&AppenderType) < 0 ||
        PyModule_AddObjectRef(module, "Finisher", (PyObject *)&FinisherType) < 0 ||
        PyModule_AddObjectRef(module, "JobStarter", (PyObject *)&JobStarterType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
