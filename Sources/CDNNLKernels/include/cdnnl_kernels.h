#ifndef CDNNL_KERNELS_H
#define CDNNL_KERNELS_H

/* A loop the oneDNN plan runs beside oneDNN's primitives, on the same OpenMP (libgomp) threads,
   so the two never compete for the cores. */

/* y = min(max(W x + bias, low), high) for W stored row-major rows x columns. */
typedef struct {
    const float *weights;
    const float *x;
    const float *bias;
    float *y;
    int rows;
    int columns;
    float low;
    float high;
} cdnnl_gemv_problem;

/* Runs on OpenMP's threads; each row is summed by one thread in a fixed order, so the result
   does not depend on the thread count. */
void cdnnl_gemv(const cdnnl_gemv_problem *problem);

#endif
