$speedups << EOD
# causal=0
512 0.9601 1.0000
1024 1.1030 1.1030
2048 0.9867 1.0000
4096 0.9300 1.0000
8192 0.9361 1.0000
16384 0.9630 1.0000
32768 0.9586 1.0000
65536 1.0003 1.0000
131072 0.9812 1.0000


# causal=1
512 0.9698 1.0000
1024 1.0816 1.0816
2048 1.0781 1.0781
4096 1.0302 1.0302
8192 0.9997 1.0000
16384 0.9519 1.0000
32768 0.9552 1.0000
65536 0.9700 1.0000
131072 0.9897 1.0000


EOD
set terminal pngcairo size 900,560
set output 'attention_fwd_hd64.png'
set termoption noenhanced
set title 'attention_fwd_hd64 with RoPE: speedup over unfused (NVIDIA H200)'
set logscale x 2
set xlabel 'sequence length'
set ylabel 'speedup vs unfused'
set key left bottom
set grid
plot for [c=0:1] $speedups index c using 1:2 with linespoints title sprintf('fused, causal=%d', c), \
     for [c=0:1] $speedups index c using 1:3 with linespoints dashtype 2 title sprintf('tuned dispatch, causal=%d', c), \
     1.0 with lines lc rgb 'black' notitle
