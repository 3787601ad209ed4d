#pragma once
// The float constants of the RGB -> 10-bit Y'CbCr conversion (ycbcr.hpp describes it), in one
// place: the CPU conversion (ycbcr.cpp) and the torch one on the GPU (worker/model/
// output_convert.cpp) must use the very same float values to agree bit for bit.
namespace reelscale::encode {

struct YCbCrCoefficients {
  float kr, kg, kb;      // luma weights, kg = 1 - kr - kb
  float cb_div, cr_div;  // 1 / (2 (1 - kb)), 1 / (2 (1 - kr))
  float y_off, y_scale, c_scale;
  float y_lo, y_hi, c_lo, c_hi;  // code value limits
};

inline YCbCrCoefficients ycbcr_coefficients(double kr, double kb, bool full_range) {
  YCbCrCoefficients c{};
  c.kr = float(kr);
  c.kb = float(kb);
  c.kg = float(1.0 - kr - kb);
  c.cb_div = float(1.0 / (2.0 * (1.0 - kb)));
  c.cr_div = float(1.0 / (2.0 * (1.0 - kr)));
  if (full_range) {
    c.y_off = 0.0f, c.y_scale = 1023.0f, c.c_scale = 1023.0f;
    c.y_lo = 0.0f, c.y_hi = 1023.0f, c.c_lo = 0.0f, c.c_hi = 1023.0f;
  } else {
    c.y_off = 64.0f, c.y_scale = 876.0f, c.c_scale = 896.0f;
    c.y_lo = 64.0f, c.y_hi = 940.0f, c.c_lo = 64.0f, c.c_hi = 960.0f;
  }
  return c;
}

}  // namespace reelscale::encode
