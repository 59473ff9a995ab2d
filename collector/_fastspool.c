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

/* submit(job_id, submitted_s, static, shots, num_circuits, idempotency_key,
 *        calibration_s) -> bool
 * The job's first event, as SpoolRecorder.submitted formats it. False: not
 * written (no room, or a key that needs escaping); format it in Python. */
static PyObject *
Appender_submit(Appender *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "submit() takes exactly 7 arguments");
        return NULL;
    }
    Py_ssize_t id_n, key_n = 0;
    const char *id = plain_id(args[0], &id_n);
    PyObject *key_obj = args[5] == Py_None ? args[0] : args[5];
    const char *key = plain_id(key_obj, &key_n);
    if (id == NULL || key == NULL || id_n == 0 || key_n == 0)
        Py_RETURN_FALSE;
    double submitted_s = PyFloat_AsDouble(args[1]);
    if (submitted_s == -1.0 && PyErr_Occurred())
        return NULL;
    char *static_s;
    Py_ssize_t static_n;
    if (PyBytes_AsStringAndSize(args[2], &static_s, &static_n) < 0)
        return NULL;
    long long shots = PyLong_AsLongLong(args[3]);
    long long num_circuits = PyLong_AsLongLong(args[4]);
    if (PyErr_Occurred())
        return NULL;
    double cal_s = 0.0;
    if (args[6] != Py_None) {
        cal_s = PyFloat_AsDouble(args[6]);
        if (cal_s == -1.0 && PyErr_Occurred())
            return NULL;
    }
    Out o;
    if (begin(self, &o) < 0)
        Py_RETURN_FALSE;
    int err = PUT_LIT(&o, "{\"e\":\"s\",\"id\":\"") || put(&o, id, id_n) ||
              PUT_LIT(&o, "\",\"status\":\"queued\",\"submitted_at\":");
    if (!err)
        err = put_seconds(&o, submitted_s);
    if (!err)
        err = PUT_LIT(&o, ",") || put(&o, static_s, static_n) || PUT_LIT(&o, ",\"shots\":") ||
              put_ll(&o, shots) || PUT_LIT(&o, ",\"num_circuits\":") ||
              put_ll(&o, num_circuits) || PUT_LIT(&o, ",\"idempotency_key\":\"") ||
              put(&o, key, key_n) || PUT_LIT(&o, "\",\"calibration_at\":");
    if (!err)
        err = args[6] == Py_None ? PUT_LIT(&o, "null") : put_seconds(&o, cal_s);
    if (!err)
        err = PUT_LIT(&o, "}\n");
    return finish(self, &o, err);
}

static PyObject *s_results, *s_header, *s_memory_slots, *s_data, *s_counts, *s_shots,
    *s_success, *s_metadata, *s_time_taken;

/* run_seconds(result) -> float | None: Result.time_taken without the cost of
 * Result.__getattr__ (it raises and catches for every miss). */
static PyObject *
float_or_none(PyObject *value)
{
    if (PyFloat_CheckExact(value))
        return Py_NewRef(value);
    if (PyLong_CheckExact(value))
        return PyNumber_Float(value);
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

/* done(job_id, finished_ns, result, shots, attempts, cost_usd, provider_job_id,
 *      record_counts) -> int
 * The finish record of a plain successful job (spool_format.format_done),
 * validated like spool_format.hex_counts. 1: written. 0: not plain, take the Python
 * path (it names what is wrong). -1: plain, but no room in the segment (the
 * Python path rotates it). */
static PyObject *
Appender_done(Appender *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "done() takes exactly 8 arguments");
        return NULL;
    }
    PyObject *result = args[2];
    Py_ssize_t id_n, pid_n;
    const char *id = plain_id(args[0], &id_n);
    const char *pid = plain_id(args[6], &pid_n);
    if (id == NULL || pid == NULL || id_n == 0)
        return PyLong_FromLong(0);
    long long finished_ns = PyLong_AsLongLong(args[1]);
    long long shots = PyLong_AsLongLong(args[3]);
    long long attempts = PyLong_AsLongLong(args[4]);
    double cost = PyFloat_AsDouble(args[5]);
    int record_counts = PyObject_IsTrue(args[7]);
    if (PyErr_Occurred())
        return NULL;

    PyObject *success = PyObject_GetAttr(result, s_success);
    if (success == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return NULL;
        PyErr_Clear();
    }
    else {
        int failed = success == Py_False;
        Py_DECREF(success);
        if (failed)
            return PyLong_FromLong(0);
    }
    PyObject *run_s = run_seconds(NULL, result);
    if (run_s == NULL)
        return NULL;
    PyObject *results = PyObject_GetAttr(result, s_results);
    if (results == NULL) {
        Py_DECREF(run_s);
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return NULL;
        PyErr_Clear();
        return PyLong_FromLong(0);
    }
    Py_ssize_t n = PyList_CheckExact(results) ? PyList_GET_SIZE(results) : 0;
    if (n == 0) {
        Py_DECREF(results);
        Py_DECREF(run_s);
        return PyLong_FromLong(0);
    }
    Experiment small[SMALL_EXPERIMENTS];
    Experiment *exps = n <= SMALL_EXPERIMENTS ? small : PyMem_Calloc((size_t)n, sizeof(Experiment));
    if (exps == NULL) {
        Py_DECREF(results);
        Py_DECREF(run_s);
        return PyErr_NoMemory();
    }
    memset(exps, 0, sizeof(Experiment) * (size_t)n);
    int plain = gather(shots, exps, n, results);
    Py_DECREF(results);
    if (plain <= 0) {
        drop_experiments(exps, n, small);
        Py_DECREF(run_s);
        return plain < 0 ? NULL : PyLong_FromLong(0);
    }
    /* Phase 2: no Python code from here to the end of the write. */
    for (Py_ssize_t i = 0; i < n; i++) {
        if (write_counts(NULL, &exps[i], 0) != 0) {
            drop_experiments(exps, n, small);
            Py_DECREF(run_s);
            return PyLong_FromLong(0);
        }
    }
    Out o;
    if (begin(self, &o) < 0) {
        drop_experiments(exps, n, small);
        Py_DECREF(run_s);
        return PyLong_FromLong(-1);
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
                err = write_counts(&o, &exps[i], 1) ? -1 : 0;
        }
        if (!err)
            err = PUT_LIT(&o, "]");
    }
    if (!err)
        err = PUT_LIT(&o, "\n");
    drop_experiments(exps, n, small);
    Py_DECREF(run_s);
    if (err) {
        memset(start, 0, (size_t)(o.p - start));
        if (err == -2)
            return NULL;
        return PyLong_FromLong(-1);
    }
    self->pos += o.p - start;
    return PyLong_FromLong(1);
}

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
    {"submit", (PyCFunction)(void (*)(void))Appender_submit, METH_FASTCALL,
     "submit(job_id, submitted_s, static, shots, num_circuits, idempotency_key, "
     "calibration_s) -> bool"},
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
    if (PyType_Ready(&AppenderType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
    Py_INCREF(&AppenderType);
    if (PyModule_AddObject(module, "Appender", (PyObject *)&AppenderType) < 0) {
        Py_DECREF(&AppenderType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
