$speedups << EOD
# causal=0
512 0.8280 0.9923
1024 0.9355 0.9986
2048 0.8926 0.9981
4096 0.8858 1.0005
8192 0.9124 0.9977
16384 0.9519 0.9994
32768 0.9705 0.9929
65536 0.9889 1.0092
131072 0.9695 1.0016


# causal=1
512 0.8248 0.9908
1024 0.9533 0.9964
2048 0.9622 0.9989
4096 0.9739 0.9902
8192 1.0074 1.0062
16384 0.9861 1.0053
32768 0.9719 0.9902
65536 0.9757 0.9795
131072 0.9859 0.9979


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
