// JPEG decoding and encoding through libjpeg, whose error handling needs setjmp/longjmp,
// which Swift cannot call. PNG is decoded from Swift with libpng's simplified API.
#ifndef IMAGE_DECODE_H
#define IMAGE_DECODE_H

#include <stddef.h>

/// Decodes the JPEG file at `path` into interleaved 8-bit pixels (HWC).
/// `want_channels` is 1 (grey), 3 (RGB) or 0 (the file's own: 1 for grey, else 3).
/// On success returns 0 and sets *pixels (malloc'd, free it with free), *width, *height and
/// *channels. On failure returns -1, sets *pixels to NULL and writes a one-line reason to `err`.
/// Corrupt-data warnings (e.g. a truncated file) count as failures. Never prints.
int decode_jpeg(const char *path, int want_channels, unsigned char **pixels, int *width,
                int *height, int *channels, char *err, size_t errlen);

/// Writes interleaved 8-bit pixels (HWC, `channels` 1 or 3) as a baseline JPEG file.
/// Returns 0, or -1 with a one-line reason in `err`. Used by tests to make JPEG fixtures.
int encode_jpeg(const char *path, const unsigned char *pixels, int width, int height,
                int channels, int quality, char *err, size_t errlen);

#endif
