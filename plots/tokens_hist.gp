# tokens_hist.gp — distribution of output or reasoning tokens per sample, one outline per model.
# gnuplot -c tokens_hist.gp NMODELS OUTBASE DATAFILE KIND, KIND "out" or "reasoning". DATAFILE:
# one block per model (first line the quoted model name), rows `bin_center fraction_of_samples`
# on bins shared by all models so that the outlines compare.
n = int(ARG1)
set terminal svg size 800,450 dynamic noenhanced font "sans,11" background "white"
set output ARG2.".svg"
if (ARG4 eq "reasoning") { set title "Reasoning length distribution"; set xlabel "reasoning tokens per sample" } \
else { set title "Output length distribution"; set xlabel "output tokens per sample" }
set ylabel "fraction of samples"
set yrange [0:*]
set grid
set key outside right top noenhanced
plot for [i=0:n-1] ARG3 index i using 1:2 with histeps linewidth 2 linecolor (i+1) title columnheader(1)
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 800,450 noenhanced font "sans,10" background "white"
    set output ARG2.".png"
    replot
}
