$speedups << EOD
# causal=0
512 0.9863 0.9863
1024 0.9885 1.0000
2048 0.8841 1.0000
4096 0.9104 1.0000
8192 0.9201 1.0000
16384 0.9406 1.0000
32768 0.9531 1.0000
65536 0.9600 1.0000
131072 0.9611 1.0000


# causal=1
512 1.3516 1.3516
1024 1.0031 1.0000
2048 0.9396 1.0000
4096 0.9812 1.0000
8192 0.9923 1.0000
16384 0.9990 0.9990
32768 0.9994 1.0000
65536 0.9907 1.0000
131072 0.9898 1.0000


EOD
set terminal pngcairo size 900,560
set output 'attention_fwd.png'
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
