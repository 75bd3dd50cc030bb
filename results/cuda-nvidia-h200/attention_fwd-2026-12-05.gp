$speedups << EOD
# causal=0
512 1.1399 1.0000
1024 1.1449 1.0000
2048 1.0479 1.0000
4096 1.0711 1.0711
8192 1.0366 1.0000
16384 1.1120 1.1120
32768 1.0110 1.0110
65536 1.0095 1.0095
131072 0.9955 0.9955


# causal=1
512 1.2226 1.0000
1024 1.3330 1.0000
2048 1.1882 1.0000
4096 1.1231 1.1231
8192 1.0496 1.0000
16384 1.1528 1.1528
32768 1.0140 1.0140
65536 1.0081 1.0081
131072 0.9997 0.9997


EOD
set terminal pngcairo size 900,560
set output "attention_fwd-2026-12-05.png"
set termoption noenhanced
set title 'attention_fwd with RoPE: speedup over unfused (NVIDIA H200)'
set logscale x 2
set xlabel 'sequence length'
set ylabel 'speedup vs unfused'
set key left bottom
set grid
plot for [c=0:1] $speedups index c using 1:2 with linespoints title sprintf('fused, causal=%d', c), \
     for [c=0:1] $speedups index c using 1:3 with linespoints dashtype 2 title sprintf('tuned dispatch, causal=%d', c), \
     1.0 with lines lc rgb 'black' notitle
