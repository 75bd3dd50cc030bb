/* Bad input returns the documented status with a message and launches nothing (the context's
 * last-launch text stays empty). Runs on every compiled backend. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "ops/attention_fwd.h"
#include "tunedb/db.h"

typedef struct {
    lk_context *ctx;
    lkt_tensor q, k, v, o, lse, k_f16, small;
    lk_attention_params p;
    lk_rope_params rope;
} fixture;

static void setup(fixture *f, lkt_backend b)
{
    memset(f, 0, sizeof *f);
    f->ctx = lkt_open(b);
    int64_t qs[4] = {1, 4, 8, 64}, ks[4] = {1, 2, 8, 64}, ls[3] = {1, 4, 8}, tiny[4] = {1, 1, 2, 64};
    f->q = lkt_zeros(f->ctx, LK_F32, 4, qs);
    f->k = lkt_zeros(f->ctx, LK_F32, 4, ks);
    f->v = lkt_zeros(f->ctx, LK_F32, 4, ks);
    f->o = lkt_zeros(f->ctx, LK_F32, 4, qs);
    f->lse = lkt_zeros(f->ctx, LK_F32, 3, ls);
    f->k_f16 = lkt_zeros(f->ctx, LK_F16, 4, ks);
    f->small = lkt_zeros(f->ctx, LK_F32, 4, tiny);
    f->p = lk_attention_params_default();
    f->rope = lk_rope_params_default();
}

static void expect_status(fixture *f, lk_status got, lk_status want, const char *what)
{
    cr_expect_eq(got, want, "%s: got %s (%s), want %s", what, lk_status_str(got), lk_last_error(f->ctx),
                 lk_status_str(want));
    cr_expect(strlen(lk_last_error(f->ctx)) > 0, "%s: no error message", what);
    cr_expect_str_empty(lk_last_launch(f->ctx), "%s launched a kernel: %s", what, lk_last_launch(f->ctx));
}

static void teardown(fixture *f)
{
    lkt_tensor *all[] = {&f->q, &f->k, &f->v, &f->o, &f->lse, &f->k_f16, &f->small};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        lkt_free(all[i]);
    lk_context_destroy(f->ctx);
}

LKT_EACH_BACKEND(b, errors, attention_and_rope)
{
    fixture f;
    setup(&f, *b);
    lk_context *c = f.ctx;
    expect_status(&f, lk_attention_fwd(c, NULL, &f.k.t, &f.v.t, &f.o.t, NULL, &f.p), LK_ERR_NULL_POINTER, "q NULL");
    expect_status(&f, lk_attention_fwd(c, &f.q.t, &f.k.t, &f.v.t, &f.o.t, NULL, NULL), LK_ERR_NULL_POINTER,
                  "params NULL");
    expect_status(&f, lk_attention_fwd(c, &f.q.t, &f.k_f16.t, &f.v.t, &f.o.t, NULL, &f.p), LK_ERR_DTYPE,
                  "mixed dtypes");
    expect_status(&f, lk_attention_fwd(c, &f.q.t, &f.q.t, &f.q.t, &f.q.t, NULL, &f.p), LK_ERR_ALIAS, "o aliases q");
    expect_status(&f, lk_attention_fwd(c, &f.q.t, &f.k.t, &f.v.t, &f.o.t, &f.o.t, &f.p), LK_ERR_SHAPE,
                  "lse of the wrong rank");
    lk_tensor lse_alias = f.lse.t;
    lse_alias.buffer = f.o.buf;
    expect_status(&f, lk_attention_fwd(c, &f.q.t, &f.k.t, &f.v.t, &f.o.t, &lse_alias, &f.p), LK_ERR_ALIAS,
                  "lse aliases o");
    expect_status(&f, lk_attention_fwd(c, &f.q.t, &f.small.t, &f.v.t, &f.o.t, NULL, &f.p), LK_ERR_SHAPE,
                  "k with another Sk than v");

    lk_tensor k3 = f.q.t;
    k3.shape[1] = 3; /* Hq 4 is not a multiple of 3 */
    lk_tensor v3 = k3;
    expect_status(&f, lk_attention_fwd(c, &f.q.t, &k3, &v3, &f.o.t, NULL, &f.p), LK_ERR_SHAPE, "Hq % Hkv");

    lk_tensor q96 = f.q.t, o96 = f.o.t, k96 = f.k.t, v96 = f.v.t;
    q96.shape[3] = o96.shape[3] = k96.shape[3] = v96.shape[3] = 32;
    expect_status(&f, lk_attention_fwd(c, &q96, &k96, &v96, &o96, NULL, &f.p), LK_ERR_UNSUPPORTED, "head_dim 32");

    lk_tensor big = f.q.t;
    big.shape[2] = 9; /* one row past the end of its buffer */
    lk_tensor obig = f.o.t;
    obig.shape[2] = 9;
    expect_status(&f, lk_attention_fwd(c, &big, &f.k.t, &f.v.t, &obig, NULL, &f.p), LK_ERR_BOUNDS,
                  "q past its buffer");

    f.p.scale = -1.0;
    expect_status(&f, lk_attention_fwd(c, &f.q.t, &f.k.t, &f.v.t, &f.o.t, NULL, &f.p), LK_ERR_INVALID_ARGUMENT,
                  "negative scale");
    f.p.scale = 0.0;
    f.rope.theta = 0.5;
    f.p.rope = &f.rope;
    expect_status(&f, lk_attention_fwd(c, &f.q.t, &f.k.t, &f.v.t, &f.o.t, NULL, &f.p), LK_ERR_INVALID_ARGUMENT,
                  "theta < 1");
    f.rope.theta = 10000.0;
    f.rope.position_offset = (1 << 24);
    expect_status(&f, lk_attention_fwd(c, &f.q.t, &f.k.t, &f.v.t, &f.o.t, NULL, &f.p), LK_ERR_INVALID_ARGUMENT,
                  "positions past 2^24");
    f.rope.position_offset = 0;

    /* rope */
    expect_status(&f, lk_rope(c, &f.q.t, &f.o.t, NULL), LK_ERR_NULL_POINTER, "rope params NULL");
    expect_status(&f, lk_rope(c, &f.q.t, &f.k.t, &f.rope), LK_ERR_SHAPE, "rope out shape");
    lk_tensor shifted = f.q.t;
    shifted.offset = 64; /* overlaps q by all but one row */
    shifted.shape[2] = 7;
    lk_tensor q7 = f.q.t;
    q7.shape[2] = 7;
    expect_status(&f, lk_rope(c, &q7, &shifted, &f.rope), LK_ERR_ALIAS, "rope partial overlap");
    f.rope.layout = (lk_rope_layout)7;
    expect_status(&f, lk_rope(c, &f.q.t, &f.o.t, &f.rope), LK_ERR_INVALID_ARGUMENT, "rope layout");
    f.rope.layout = LK_ROPE_HALF_SPLIT;
    f.rope.position_ids = &f.q.t; /* f32 [1,4,8,64]: wrong rank and dtype */
    expect_status(&f, lk_rope(c, &f.q.t, &f.o.t, &f.rope), LK_ERR_SHAPE, "rope position ids");

    /* buffers */
    char host[16];
    expect_status(&f, lk_buffer_read(c, f.small.buf, lk_buffer_size(f.small.buf) - 8, host, 16), LK_ERR_BOUNDS,
                  "read past the end");
    expect_status(&f, lk_buffer_write(c, f.small.buf, 0, NULL, 16), LK_ERR_NULL_POINTER, "write from NULL");
    teardown(&f);
}

/* What a fuzzing pass found (session 15): address arithmetic and shape products that wrapped
 * around, positions that overflowed, ids and outputs that overlapped, parameters ignored. Each
 * bad input must be refused with its status before anything is launched. */
LKT_EACH_BACKEND(b, errors, overflow_and_overlap)
{
    fixture f;
    setup(&f, *b);
    lk_context *c = f.ctx;
    const int64_t p61 = (int64_t)1 << 61;
    lk_tensor wild = f.small.t; /* [1,1,2,64] over 512 bytes: the span wraps to a small size */
    wild.strides[2] = p61;
    expect_status(&f, lk_rope(c, &wild, &wild, &f.rope), LK_ERR_BOUNDS, "a stride whose span wraps");
    lk_tensor far = f.q.t;
    far.offset = INT64_MAX;
    expect_status(&f, lk_attention_fwd(c, &far, &f.k.t, &f.v.t, &f.o.t, NULL, &f.p), LK_ERR_BOUNDS,
                  "an offset of INT64_MAX");
    lk_tensor huge = f.q.t; /* 2^33 * 2^31 * 8 * 64 elements at stride 0: the product wraps */
    huge.shape[0] = (int64_t)1 << 33;
    huge.shape[1] = (int64_t)1 << 31;
    for (int i = 0; i < 3; i++)
        huge.strides[i] = 0;
    expect_status(&f, lk_rope(c, &huge, &huge, &f.rope), LK_ERR_SHAPE, "more than 2^62 elements");
    int64_t shape8[8] = {1, 1, 1, 1, 1, 1, 1, 64};
    lk_tensor eight = lk_tensor_make(f.q.buf, LK_F32, 8, shape8);
    expect_status(&f, lk_rope(c, &eight, &f.o.t, &f.rope), LK_ERR_SHAPE, "8 dimensions");

    f.rope.position_offset = INT64_MAX - 4;
    expect_status(&f, lk_rope(c, &f.q.t, &f.o.t, &f.rope), LK_ERR_INVALID_ARGUMENT, "rope offset near INT64_MAX");
    f.p.rope = &f.rope;
    expect_status(&f, lk_attention_fwd(c, &f.q.t, &f.k.t, &f.v.t, &f.o.t, NULL, &f.p), LK_ERR_INVALID_ARGUMENT,
                  "attention offset near INT64_MAX");
    f.rope.position_offset = 0;
    f.rope.scaling = LK_ROPE_SCALING_LLAMA3;
    f.rope.factor = INFINITY;
    expect_status(&f, lk_rope(c, &f.q.t, &f.o.t, &f.rope), LK_ERR_INVALID_ARGUMENT, "llama3 factor inf");
    f.rope = lk_rope_params_default();

    int64_t ids_shape[1] = {8};
    lkt_tensor ids = lkt_zeros(c, LK_I32, 1, ids_shape);
    f.rope.position_ids = &ids.t;
    expect_status(&f, lk_attention_fwd(c, &f.q.t, &f.k.t, &f.v.t, &f.o.t, NULL, &f.p), LK_ERR_UNSUPPORTED,
                  "rope->position_ids given to attention");
    f.rope.position_ids = NULL;
    lk_tensor ids_in_o = lk_tensor_make(f.o.buf, LK_I32, 1, ids_shape); /* k positions in o's first bytes */
    f.p.k_position_ids = &ids_in_o;
    expect_status(&f, lk_attention_fwd(c, &f.q.t, &f.k.t, &f.v.t, &f.o.t, NULL, &f.p), LK_ERR_ALIAS,
                  "o over k_position_ids");
    lk_tensor id_out = f.q.t; /* the rope op: out over its own position ids */
    id_out.buffer = ids.buf;
    id_out.shape[1] = 1;
    id_out.shape[2] = 1;
    id_out.shape[3] = 8;
    lk_tensor x1 = id_out;
    x1.buffer = f.q.buf;
    f.p.k_position_ids = NULL;
    f.rope.position_ids = &ids.t;
    ids.t.shape[0] = 1;
    expect_status(&f, lk_rope(c, &x1, &id_out, &f.rope), LK_ERR_ALIAS, "rope out over its position ids");
    f.rope.position_ids = NULL;
    ids.t.shape[0] = 8;

    lk_hadamard_params hp = lk_hadamard_params_default();
    lk_tensor one = f.q.t;
    one.shape[0] = one.shape[1] = one.shape[2] = one.shape[3] = 1;
    lk_tensor one_out = one;
    one_out.buffer = f.o.buf;
    expect_status(&f, lk_hadamard(c, &one, &one_out, &hp), LK_ERR_UNSUPPORTED, "a Hadamard of one channel");

    expect_status(&f, lk_buffer_copy(c, f.q.buf, 0, f.q.buf, 64, 128), LK_ERR_ALIAS, "overlapping copy");

    lk_tensor o_rows_shared = f.o.t; /* every query row written to the same place */
    o_rows_shared.strides[2] = 0;
    expect_status(&f, lk_attention_fwd(c, &f.q.t, &f.k.t, &f.v.t, &o_rows_shared, NULL, &f.p), LK_ERR_ALIAS,
                  "an output with a zero stride");
    lk_tensor out_interleaved = f.o.t; /* heads 64 apart but rows 64 wide: head h row s+1 = head h+1 row s */
    out_interleaved.strides[1] = 64;
    expect_status(&f, lk_rope(c, &f.q.t, &out_interleaved, &f.rope), LK_ERR_ALIAS, "an output whose strides interleave");

    lk_tensor long_k = f.k.t, long_v = f.v.t, q3 = f.q.t, o3 = f.o.t; /* 2^31 - 1 keys at stride 0 */
    long_k.shape[2] = long_v.shape[2] = INT32_MAX;
    long_k.strides[2] = long_v.strides[2] = 0;
    q3.shape[2] = o3.shape[2] = 1;
    lk_decode_params dp = lk_decode_params_default();
    expect_status(&f, lk_attention_decode(c, &q3, &long_k, &long_v, &o3, NULL, &dp), LK_ERR_UNSUPPORTED,
                  "a decode over 2^31 - 1 keys (its tile count overflowed int)");

    lk_kivi_config kc = lk_kivi_config_default(274177, 67280421310721LL, 128, 256); /* product = 1 mod 2^64 */
    lk_kivi_cache *kivi = NULL;
    expect_status(&f, lk_kivi_cache_create(c, &kc, &kivi), LK_ERR_INVALID_ARGUMENT, "batch * kv_heads wraps");
    cr_expect_null(kivi);
    lkt_free(&ids);
    teardown(&f);
}

/* A database row whose parameters the op refuses is not an error for the caller: the call runs
 * the built-in defaults, says so in its last-launch line, and gets the right answer. A row the
 * static check refuses (a name the op lacks, a value outside its range: another library version's
 * row, a hand edit) is skipped at lookup (lk_op_params_check); one that passes it but not this
 * device (tiles past its work-group size) is refused by the call (lk_op_params_fall_back). */
LKT_EACH_BACKEND(b, errors, refused_database_row_falls_back)
{
    static const char *const rows[] = {"BLOCK_M=7,BLOCK_N=3,STAGES=9", "BLOCK_M=65536,BLOCK_N=16,STAGES=1"};
    lk_context *probe = lkt_open(*b);
    lk_device_info dev = *lk_context_device(probe);
    lk_context_destroy(probe);
    for (int i = 0; i < 2; i++) {
        char dir[] = "/tmp/lk-errors-XXXXXX", path[64], err[512];
        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/t.db", dir);
        lk_db *db = NULL;
        cr_assert_eq(lk_db_open(path, 1, &db, err, sizeof err), LK_OK, "%s", err);
        lk_tune_key key = {.op = "attention_fwd", .family = "plain", .dtype = LK_F32, .head_dim = 64, .flag = 0,
                           .length = 8};
        lk_db_measurement m = {LK_DB_OK, rows[i], NULL, 1.0, 0.9, 1.1, 10, "test"};
        cr_assert_eq(lk_db_record(db, &dev, &key, &m), LK_OK, "%s", lk_db_error(db));
        lk_db_close(db);
        setenv("LK_TUNING_DB", path, 1);
        setenv("LK_SYSTEM_DB", "", 1);

        fixture f;
        setup(&f, *b);
        lk_status st = lk_attention_fwd(f.ctx, &f.q.t, &f.k.t, &f.v.t, &f.o.t, NULL, &f.p);
        cr_expect_eq(st, LK_OK, "the refused row %s failed the call: %s", rows[i], lk_last_error(f.ctx));
        lk_params defs;
        lk_attention_fwd_defaults(&dev, 64, &defs);
        char want[32];
        snprintf(want, sizeof want, "BLOCK_M=%d ", lk_params_get(&defs, "BLOCK_M", 0));
        cr_expect(strstr(lk_last_launch(f.ctx), "source=default") && strstr(lk_last_launch(f.ctx), want),
                  "row %s: not the defaults (%s): %s", rows[i], want, lk_last_launch(f.ctx));
        teardown(&f);
        remove(path);
        rmdir(dir);
    }
}

/* The built-in attention tiles of each kind of device are ones its kernels take: the warpgroup
 * tile (MMA 2, BLOCK_M = 16 WARPS) only in the CUDA build on compute capability 9.0 at hd128,
 * within the opt-in shared memory; NVIDIA OpenCL's within its 48 KB; CPUs the generic kernel. */
Test(errors, attention_defaults_fit_each_device)
{
    const lk_device_info cuda_h100 = {.backend = LK_BACKEND_CUDA, .type = LK_DEVICE_GPU, .cc_major = 9,
                                      .local_mem_bytes = 48 << 10, .local_mem_optin_bytes = 227 << 10,
                                      .max_work_group = 1024};
    lk_device_info ocl_h100 = cuda_h100, cuda_a100 = cuda_h100, cpu = {.backend = LK_BACKEND_OPENCL,
                                                                         .type = LK_DEVICE_CPU,
                                                                         .local_mem_bytes = 64 << 10,
                                                                         .local_mem_optin_bytes = 64 << 10,
                                                                         .max_work_group = 4096};
    ocl_h100.backend = LK_BACKEND_OPENCL;
    ocl_h100.local_mem_optin_bytes = 48 << 10;
    cuda_a100.cc_major = 8;
    const struct {
        const lk_device_info *dev;
        int head_dim, mma;
    } cases[] = {{&cuda_h100, 128, 2}, {&cuda_h100, 64, 1}, {&ocl_h100, 128, 1}, {&cuda_a100, 128, 1}, {&cpu, 128, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lk_params d;
        lk_attention_fwd_defaults(cases[i].dev, cases[i].head_dim, &d);
        int mma = lk_params_get(&d, "MMA", 0), warps = lk_params_get(&d, "WARPS", 0);
        int bm = lk_params_get(&d, "BLOCK_M", 0);
        size_t bytes = lk_attention_fwd_local_bytes(&d, cases[i].head_dim);
        cr_expect_eq(mma, cases[i].mma, "case %zu: MMA %d", i, mma);
        cr_expect(mma != 2 || bm == 16 * warps, "case %zu: BLOCK_M %d with WARPS %d", i, bm, warps);
        cr_expect(bytes <= lk_attention_fwd_local_limit(cases[i].dev, &d), "case %zu: %zu bytes of local memory", i,
                  bytes);
        cr_expect(mma == 0 || (size_t)(32 * warps) <= cases[i].dev->max_work_group, "case %zu: WARPS %d", i, warps);
    }
}

Test(errors, device_requests)
{
    lk_device_request r;
    cr_expect_eq(lk_device_request_parse("opencl:0:1", &r), LK_OK);
    cr_expect(r.backend == LK_BACKEND_OPENCL && r.platform == 0 && r.device == 1);
    cr_expect_eq(lk_device_request_parse("cuda:2", &r), LK_OK);
    cr_expect(r.backend == LK_BACKEND_CUDA && r.device == 2);
    cr_expect_eq(lk_device_request_parse("opencl:pocl", &r), LK_OK);
    cr_expect_str_eq(r.name_contains, "pocl");
    cr_expect_eq(lk_device_request_parse("vulkan:0", &r), LK_ERR_INVALID_ARGUMENT);
    cr_expect_eq(lk_device_request_parse("opencl:1:x", &r), LK_ERR_INVALID_ARGUMENT);
    cr_expect_eq(lk_device_request_parse("opencl:4294967296", &r), LK_ERR_INVALID_ARGUMENT, "platform past int");
    cr_expect_eq(lk_device_request_parse("opencl:0:99999999999999999999", &r), LK_ERR_INVALID_ARGUMENT,
                 "device past long");

    lk_context *ctx = NULL;
    lk_device_request none = {LK_BACKEND_OPENCL, -1, -1, "no-such-device-name"};
    lk_status st = lk_context_create(&ctx, &none);
    cr_expect(st == LK_ERR_NO_DEVICE || st == LK_ERR_BACKEND_UNAVAILABLE, "got %s", lk_status_str(st));
    cr_expect_null(ctx);
    cr_expect(strlen(lk_last_error(NULL)) > 0, "no message for a failed context creation");
    cr_expect_eq(lk_context_create(NULL, NULL), LK_ERR_NULL_POINTER);
    lk_context_destroy(NULL);
    lk_buffer_free(NULL);
}
