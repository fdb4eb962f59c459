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

/* y = min(max(x W' + bias, low), high) for a batch of rows: x is rows x columns (row r at
   x + r * x_stride), W is outputs x columns, packed by cdnnl_dense_pack; row r of y is at
   y + r * y_stride and its entries outputs..y_stride-1 are set to 0 (a blocked layout's
   padding). bias may be NULL. */
typedef struct {
    const float *packed;
    const float *x;
    const float *bias;
    float *y;
    long x_stride;
    long y_stride;
    int rows;
    int columns;
    int outputs;
    float low;
    float high;
} cdnnl_dense_problem;

/* Floats cdnnl_dense_pack writes: the outputs in panels of 16, zero-padded. */
long cdnnl_dense_packed_count(int outputs, int columns);

/* Packs W, whose element (o, k) is w[o * output_stride + k * column_stride]. */
void cdnnl_dense_pack(const float *w, long output_stride, long column_stride, int outputs, int columns, float *packed);

/* Runs on OpenMP's threads; every output is one thread's sum over the columns in order, so the
   result does not depend on the thread count (oneDNN's inner product splits the sums across
   threads for some shapes). */
void cdnnl_dense(const cdnnl_dense_problem *problem);

/* result[c] = the sum over images and positions of dy * x at channel c, for tensors of
   images x channels x positions in a layout with channels in blocks of `block` (1, 8 or 16;
   channel c of position q of an image in block c / block, lane c % block). */
typedef struct {
    const float *dy;
    const float *x;
    float *result;
    int images;
    int channels;
    int positions;
    int block;
} cdnnl_channel_dot_problem;

/* Runs on OpenMP's threads; each block of channels is summed by one thread in a fixed order,
   so the result does not depend on the thread count. */
void cdnnl_channel_dot(const cdnnl_channel_dot_problem *problem);

/* y = x * scale[c] at channel c, for tensors of images x channels x positions in a layout
   with channels in blocks of `block` (1, 8 or 16, as `cdnnl_channel_dot`); the lanes of a last
   block past `channels` are written as zeros. One product per element, as oneDNN's binary
   multiply computes it. */
typedef struct {
    const float *x;
    const float *scale;
    float *y;
    int images;
    int channels;
    int positions;
    int block;
} cdnnl_channel_scale_problem;

/* Runs on OpenMP's threads, each on a contiguous part of the (image, block) pairs. */
void cdnnl_channel_scale(const cdnnl_channel_scale_problem *problem);

/* dx = dy * (low < y < high ? 1 : 0) elementwise over `count` floats of three buffers in one
   layout: the backward of a clip (or, with high = +infinity, a ReLU) through its output y, as
   oneDNN's eltwise_clip_v2_use_dst_for_bwd computes it (a product with 1 or 0, so a zero keeps
   dy's sign, and a NaN y gives a zero). */
typedef struct {
    const float *y;
    const float *dy;
    float *dx;
    long count;
    float low;
    float high;
} cdnnl_clip_backward_problem;

/* Runs on OpenMP's threads, each on a contiguous part. */
void cdnnl_clip_backward(const cdnnl_clip_backward_problem *problem);

/* LayerNormalization over the channels at each position: y = (x - mean) / sqrt(var + epsilon)
   * scale[c] + bias[c], mean and var over the channels of one image at one position, for
   tensors of images x channels x positions in a layout with channels in blocks of `block`
   (1, 8 or 16, as `cdnnl_channel_dot`, or channels last as one block of all channels); the
   lanes of a last block past `channels` are written as zeros. bias may be NULL. `weights` (NULL,
   or one per channel, each 0 or 1) restricts mean and var to the channels of weight 1: what the
   LayerNormalization computes once the others are removed (the masked model of filter pruning);
   every channel is still written. */
typedef struct {
    const float *x;
    const float *scale;
    const float *bias;
    const float *weights;
    float *y;
    int images;
    int channels;
    int positions;
    int block;
    float epsilon;
} cdnnl_channel_norm_problem;

/* Runs on OpenMP's threads; each position is normalised by one thread with its sums in a fixed
   order (channel_norm_common.h), so the result depends neither on the thread count nor on the layout. */
void cdnnl_channel_norm(const cdnnl_channel_norm_problem *problem);

/* The data gradient of `cdnnl_channel_norm` (scale and bias frozen): dx from dy and the
   forward pass's input x, all three in x's layout. The mean and deviation are recomputed as the
   forward pass computed them; with g = dy * scale[c] and xhat the normalised x,
   dx = (g - mean(g) - xhat * mean(g * xhat)) / sqrt(var + eps), the means over the channels.
   With `weights` (as the forward problem's; held fixed, no gradient) the statistics are over the
   channels of weight 1, k of them, and dx = (g - w[c] * (sum(g) + xhat * sum(g * xhat)) / k) / sqrt(var + eps). */
typedef struct {
    const float *x;
    const float *scale;
    const float *weights;
    const float *dy;
    float *dx;
    int images;
    int channels;
    int positions;
    int block;
    float epsilon;
} cdnnl_channel_norm_backward_problem;

void cdnnl_channel_norm_backward(const cdnnl_channel_norm_backward_problem *problem);

#endif
