// softmax/output.h — the names of -DOUTPUT_MODE, what a softmax forward
// kernel writes for each row. The host passes the number (SoftmaxKind's
// outputMode), so the values are fixed; they are ordered: up to
// FK_OUTPUT_LOG_SOFTMAX a kernel writes a whole row, from FK_OUTPUT_LSE on
// only the row's statistics.
#ifndef SM_OUTPUT_H
#define SM_OUTPUT_H

#define FK_OUTPUT_SOFTMAX 0       // y = softmax(z)
#define FK_OUTPUT_LOG_SOFTMAX 1   // y = z - log-sum-exp(z)
#define FK_OUTPUT_LSE 2           // one value: log-sum-exp(z)
#define FK_OUTPUT_STATISTICS 3    // two floats: the online normalizer's (m, d)

#ifndef OUTPUT_MODE
#define OUTPUT_MODE FK_OUTPUT_SOFTMAX
#endif

#endif // SM_OUTPUT_H
