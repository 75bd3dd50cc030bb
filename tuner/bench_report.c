/* lk-bench's table, CSV and plot (see bench_report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_report.h"

#define COLUMNS "seq_len,causal,head_dim,dtype,fused_ms,unfused_ms,dispatch_ms,default_ms,speedup_fused_vs_unfused," \
                "dispatch_vs_unfused,tflops,dispatch_variant,dispatch_timed_ms"

static double tflops(const bench_row *r)
{
    return r->flops / (r->dispatch_ms * 1e-3) / 1e12;
}

static const char *variant_name(int v)
{
    static const char *names[] = {"fused", "K pre-pass", "unfused"};
    return v >= 0 && v < 3 ? names[v] : "?";
}

static void write_markdown(FILE *f, const bench_row *rows, int n)
{
    fprintf(f, "| seq_len | causal | head_dim | dtype | fused ms | unfused ms | dispatch ms | default ms | "
               "fused/unfused | dispatch/unfused | TFLOP/s | dispatch runs | dispatch timed ms |\n");
    fprintf(f, "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|\n");
    for (int i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        fprintf(f, "| %lld | %d | %d | %s | %.3f | %.3f | %.3f | %.3f | %.2fx | %.2fx | %.4g | %s | %.3f |\n",
                (long long)r->seq_len, r->causal, r->head_dim, lk_dtype_name(r->dtype), r->fused_ms, r->unfused_ms,
                r->dispatch_ms, r->default_ms, r->unfused_ms / r->fused_ms, r->unfused_ms / r->dispatch_ms,
                tflops(r), variant_name(r->dispatch_variant), r->dispatch_timed_ms);
    }
}

static void write_csv(FILE *f, const bench_row *rows, int n)
{
    fprintf(f, COLUMNS "\n");
    for (int i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        fprintf(f, "%lld,%d,%d,%s,%.6f,%.6f,%.6f,%.6f,%.4f,%.4f,%.6f,%d,%.6f\n", (long long)r->seq_len, r->causal,
                r->head_dim, lk_dtype_name(r->dtype), r->fused_ms, r->unfused_ms, r->dispatch_ms, r->default_ms,
                r->unfused_ms / r->fused_ms, r->unfused_ms / r->dispatch_ms, tflops(r), r->dispatch_variant,
                r->dispatch_timed_ms);
    }
}

/* The gnuplot script carries its data and writes NAME.png beside itself (run it from its
 * folder): one block per causal setting (seq_len, fused/unfused,
 * dispatch/unfused), so each setting is one connected line. */
static void write_plot(FILE *f, const char *name, const char *device, const bench_row *rows, int n)
{
    fprintf(f, "$speedups << EOD\n");
    for (int c = 0; c < 2; c++) {
        fprintf(f, "# causal=%d\n", c);
        for (int i = 0; i < n; i++)
            if (rows[i].causal == c)
                fprintf(f, "%lld %.4f %.4f\n", (long long)rows[i].seq_len, rows[i].unfused_ms / rows[i].fused_ms,
                        rows[i].unfused_ms / rows[i].dispatch_ms);
        fprintf(f, "\n\n");
    }
    fprintf(f, "EOD\nset terminal pngcairo size 900,560\nset output '%s.png'\nset termoption noenhanced\n"
               "set title '%s with RoPE: speedup over unfused (%s)'\nset logscale x 2\n"
               "set xlabel 'sequence length'\nset ylabel 'speedup vs unfused'\nset key left bottom\nset grid\n"
               "plot for [c=0:1] $speedups index c using 1:2 with linespoints title sprintf('fused, causal=%%d', c), \\\n"
               "     for [c=0:1] $speedups index c using 1:3 with linespoints dashtype 2 "
               "title sprintf('tuned dispatch, causal=%%d', c), \\\n"
               "     1.0 with lines lc rgb 'black' notitle\n",
            name, name, device);
}

int bench_report_files(const char *dir, const char *name, const char *device, const char *header,
                       const bench_row *rows, int n, int planned)
{
    static const char *const ext[] = {"md", "csv", "gp"};
    bench_file f[3];
    if (bench_files_nothing(n, dir, name))
        return 1;
    int ok = bench_files_open(f, 3, dir, name, ext);
    if (ok) {
        FILE *md = f[0].f, *csv = f[1].f;
        fprintf(md, "# %s: fused RoPE vs unfused, tuned dispatch, untuned default\n\n", name);
        bench_header(md, "    ", header, n, planned);
        fprintf(md, "\nTimes are medians of device-event runs; speedups are unfused / fused and unfused / "
                    "dispatch; \"dispatch runs\" is the variant the tuned dispatch chose. When the dispatch's "
                    "parameters equal those of a variant column (same kernels, same tiles: one launch), "
                    "\"dispatch ms\" is that column's time; \"dispatch timed ms\" is always the dispatch call's "
                    "own timing in the same rounds, and the two differ only by the noise of timing one launch "
                    "twice.\n\n");
        write_markdown(md, rows, n);
        bench_header(csv, "# ", header, n, planned);
        write_csv(csv, rows, n);
        write_plot(f[2].f, name, device, rows, n);
    }
    return bench_files_close(f, 3, ok);
}

/* s as one single-quoted shell word ('\'' for each quote). 0, or -1 when it does not fit n. */
static int shell_quote(const char *s, char *out, size_t n)
{
    size_t k = 0;
    if (n < 3)
        return -1;
    out[k++] = '\'';
    for (; *s; s++) {
        const char *piece = *s == '\'' ? "'\\''" : NULL;
        size_t len = piece ? 4 : 1;
        if (k + len + 2 > n)
            return -1;
        if (piece)
            memcpy(out + k, piece, len);
        else
            out[k] = *s;
        k += len;
    }
    out[k++] = '\'';
    out[k] = '\0';
    return 0;
}

int bench_report(const char *dir, const char *name, const char *device, const char *header, const bench_row *rows,
                 int n)
{
    if (bench_report_files(dir, name, device, header, rows, n, n))
        return 1;
    write_markdown(stdout, rows, n);
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        printf("note: gnuplot is not on PATH; run 'cd %s && gnuplot %s.gp' later for the PNG\n", dir, name);
        return 0;
    }
    char cmd[2800], quoted[2400];
    if (shell_quote(dir, quoted, sizeof quoted) != 0) {
        fprintf(stderr, "lk-bench: the --out path is too long to run gnuplot in; run 'gnuplot %s.gp' there\n", name);
        return 1;
    }
    snprintf(cmd, sizeof cmd, "cd %s && gnuplot %s.gp", quoted, name);
    if (system(cmd) != 0) {
        fprintf(stderr, "gnuplot failed on %s/%s.gp\n", dir, name);
        return 1;
    }
    printf("wrote %s/%s.{md,csv,gp,png}\n", dir, name);
    return 0;
}
