$speedups << EOD
# causal=0
512 1.1401 1.1374
1024 0.9638 1.1027
2048 0.8474 1.0528
4096 0.7837 1.0273
8192 0.7449 1.0136
16384 0.7277 1.0080
32768 0.7351 1.0181
65536 0.7175 1.0019
131072 0.7169 1.0053


# causal=1
512 1.0775 1.2876
1024 0.9448 1.1250
2048 0.8312 1.0670
4096 0.7861 1.0442
8192 0.7578 1.0204
16384 0.7408 1.0099
32768 0.7249 1.0016
65536 0.7155 1.0000


EOD
set terminal pngcairo size 900,560
set output 'attention_bwd.png'
set termoption noenhanced
set title 'attention_bwd with RoPE: speedup over unfused (NVIDIA H200)'
set logscale x 2
set xlabel 'sequence length'
set ylabel 'speedup vs unfused'
set key left bottom
set grid
plot for [c=0:1] $speedups index c using 1:2 with linespoints title sprintf('fused, causal=%d', c), \
     for [c=0:1] $speedups index c using 1:3 with linespoints dashtype 2 title sprintf('tuned dispatch, causal=%d', c), \
     1.0 with lines lc rgb 'black' notitle
