#pragma once
// Still images for the report (thumbnails, before/after crops), encoded with libavcodec's
// MJPEG encoder: the report needs no image library beyond FFmpeg, so the coordinator links only
// OpenCV's core and imgproc (imgcodecs pulls in GDAL, OpenEXR, HDF5... on Debian: ~140
// libraries that a coordinator or GPU image should not carry).
#include <cstdint>
#include <string>
#include <vector>

namespace reelscale::media {

// Interleaved 8-bit BGR (OpenCV's order), `stride` bytes per row -> a baseline JPEG file.
// `quality` 1..100 as in libjpeg's scale (mapped to MJPEG's qscale). Throws MediaError.
std::vector<uint8_t> encode_jpeg_bgr(const uint8_t* bgr, int width, int height, int stride,
                                     int quality = 80);

}  // namespace reelscale::media
