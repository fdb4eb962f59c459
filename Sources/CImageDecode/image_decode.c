#include "image_decode.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

// libjpeg's default error_exit calls exit(); ours jumps back to the caller with the message.
struct jump_error_mgr {
    struct jpeg_error_mgr pub;
    jmp_buf env;
    char *err;
    size_t errlen;
};

static void jump_error_exit(j_common_ptr cinfo) {
    struct jump_error_mgr *mgr = (struct jump_error_mgr *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    snprintf(mgr->err, mgr->errlen, "%s", text);
    longjmp(mgr->env, 1);
}

// Level -1 is a corrupt-data warning: treat it as an error. Trace messages are dropped.
static void jump_emit_message(j_common_ptr cinfo, int msg_level) {
    if (msg_level < 0) jump_error_exit(cinfo);
}

static void install_error_manager(struct jump_error_mgr *mgr, char *err, size_t errlen) {
    jpeg_std_error(&mgr->pub);
    mgr->pub.error_exit = jump_error_exit;
    mgr->pub.emit_message = jump_emit_message;
    mgr->err = err;
    mgr->errlen = errlen;
}

int decode_jpeg(const char *path, int want_channels, unsigned char **pixels, int *width,
                int *height, int *channels, char *err, size_t errlen) {
    *pixels = NULL;
    if (want_channels != 0 && want_channels != 1 && want_channels != 3) {
        snprintf(err, errlen, "cannot decode to %d channels", want_channels);
        return -1;
    }
    FILE *file = fopen(path, "rb");
    if (!file) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    struct jpeg_decompress_struct cinfo;
    struct jump_error_mgr mgr;
    // volatile: modified between setjmp and longjmp.
    unsigned char *volatile buffer = NULL;
    cinfo.err = &mgr.pub;
    install_error_manager(&mgr, err, errlen);
    if (setjmp(mgr.env)) {
        jpeg_destroy_decompress(&cinfo);
        fclose(file);
        free(buffer);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, file);
    jpeg_read_header(&cinfo, TRUE);
    // A hostile header must not make us allocate: the same 2^26-pixel limit as ImageCodec.swift.
    if ((size_t)cinfo.image_width * (size_t)cinfo.image_height > ((size_t)1 << 26)) {
        snprintf(err, errlen, "the header claims %ux%u pixels; the largest image read is %zu pixels",
                 (unsigned)cinfo.image_width, (unsigned)cinfo.image_height, (size_t)1 << 26);
        longjmp(mgr.env, 1);
    }
    int native = cinfo.num_components == 1 ? 1 : 3;
    int out = want_channels == 0 ? native : want_channels;
    cinfo.out_color_space = out == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    buffer = malloc(stride * cinfo.output_height);
    if (!buffer) {
        snprintf(err, errlen, "out of memory");
        longjmp(mgr.env, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = buffer + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    *width = (int)cinfo.output_width;
    *height = (int)cinfo.output_height;
    *channels = cinfo.output_components;
    *pixels = buffer;
    jpeg_destroy_decompress(&cinfo);
    fclose(file);
    return 0;
}

int encode_jpeg(const char *path, const unsigned char *pixels, int width, int height,
                int channels, int quality, char *err, size_t errlen) {
    if (channels != 1 && channels != 3) {
        snprintf(err, errlen, "cannot encode %d channels", channels);
        return -1;
    }
    FILE *file = fopen(path, "wb");
    if (!file) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    struct jpeg_compress_struct cinfo;
    struct jump_error_mgr mgr;
    cinfo.err = &mgr.pub;
    install_error_manager(&mgr, err, errlen);
    if (setjmp(mgr.env)) {
        jpeg_destroy_compress(&cinfo);
        fclose(file);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, file);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)width * (size_t)channels;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + stride * cinfo.next_scanline);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    if (fclose(file) != 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    return 0;
}
