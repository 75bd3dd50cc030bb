/* lk-info: list backends, devices and their fingerprints, and which device is the default.
 *   lk-info            all devices
 *   lk-info --tuning OP DTYPE HEAD_DIM FLAG LENGTH   what the tuning lookup gives on the default device */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_number.h"
#include "longkern.h"

static const char *type_name(lk_device_type t)
{
    return t == LK_DEVICE_GPU ? "GPU" : t == LK_DEVICE_CPU ? "CPU" : "other";
}

int main(int argc, char **argv)
{
    int tuning = argc == 7 && strcmp(argv[1], "--tuning") == 0;
    if (argc > 1 && !tuning) {
        fprintf(stderr, "usage: lk-info [--tuning OP f16|f32 HEAD_DIM FLAG LENGTH]\n");
        return 2;
    }
    const lk_backend_kind kinds[] = {LK_BACKEND_OPENCL, LK_BACKEND_CUDA};
    const char *names[] = {"opencl", "cuda"};
    printf("longkern %d.%d.%d, kernels %s\n\nbackends:\n", LK_VERSION_MAJOR, LK_VERSION_MINOR, LK_VERSION_PATCH,
           lk_kernels_version());
    for (int i = 0; i < 2; i++) {
        const char *why = "";
        lk_status st = lk_backend_available(kinds[i], &why);
        printf("  %-7s %s%s%s\n", names[i], st == LK_OK ? "available" : "unavailable", st == LK_OK ? "" : ": ", why);
    }
    lk_device_info devs[64];
    int n = 0;
    lk_list_devices(devs, 64, &n);
    printf("\ndevices (%d):\n", n);
    for (int i = 0; i < n && i < 64; i++) {
        const lk_device_info *d = &devs[i];
        const char *b = d->backend == LK_BACKEND_CUDA ? "cuda" : "opencl";
        printf("  %s:%d:%d  %s  %s  [%s]\n", b, d->platform, d->device, type_name(d->type), d->name, d->platform_name);
        printf("      driver %s, %d compute units, %d MHz, local mem %zu B, global mem %zu MiB, max work-group %zu",
               d->driver, d->compute_units, d->clock_mhz, d->local_mem_bytes, d->global_mem_bytes >> 20,
               d->max_work_group);
        if (d->local_mem_optin_bytes > d->local_mem_bytes)
            printf(", opt-in local mem %zu B", d->local_mem_optin_bytes);
        if (d->cc_major)
            printf(", compute capability %d.%d", d->cc_major, d->cc_minor);
        printf("\n      fingerprint %s\n", d->fingerprint);
    }
    lk_context *ctx = NULL;
    lk_status st = lk_context_create(&ctx, NULL);
    if (st != LK_OK) {
        printf("\ndefault device: none (%s: %s)\n", lk_status_str(st), lk_last_error(NULL));
        return n > 0 ? 1 : 0;
    }
    const lk_device_info *d = lk_context_device(ctx);
    printf("\ndefault device (LK_DEVICE=%s): %s %s\n", getenv("LK_DEVICE") ? getenv("LK_DEVICE") : "unset",
           d->backend == LK_BACKEND_CUDA ? "cuda" : "opencl", d->name);
    int rc = 0;
    if (tuning) {
        char buf[1024];
        int ok = !strcmp(argv[3], "f16") || !strcmp(argv[3], "f32");
        lk_dtype dt = strcmp(argv[3], "f16") == 0 ? LK_F16 : LK_F32;
        long long hd = 0, flag = 0, len = 0;
        ok = ok && !cli_whole(argv[4], 0, 4096, &hd) && !cli_whole(argv[5], -(1 << 30), 1 << 30, &flag) &&
             !cli_whole(argv[6], 0, 1LL << 40, &len);
        st = ok ? lk_tuning_describe(ctx, argv[2], dt, (int)hd, (int)flag, len, buf, sizeof buf)
                : LK_ERR_INVALID_ARGUMENT;
        printf("tuning %s %s hd%s flag %s len %s: %s\n", argv[2], argv[3], argv[4], argv[5], argv[6],
               st == LK_OK ? buf : ok ? lk_last_error(ctx) : "bad DTYPE (f16, f32), HEAD_DIM, FLAG or LENGTH");
        rc = st == LK_OK ? 0 : 1;
    }
    lk_context_destroy(ctx);
    return rc;
}
