#pragma once
// NumPy .npy files of float32 in C order: how `reelscale model infer` exchanges tensors with
// the official Python code and how the equality fixtures are stored. Torch-free.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace reelscale::model {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;  // C order
  size_t numel() const;
};

// Reads a version 1/2/3 .npy holding little-endian float32 ('<f4'), or float64 ('<f8') or
// uint8 ('|u1', values kept: 0..255) converted to float32, in C order. Throws MediaError naming the file and what is wrong (fortran order,
// another dtype, a truncated payload...).
NpyArray read_npy(const std::filesystem::path& path);
NpyArray parse_npy(const std::string& bytes, const std::string& name = "<memory>");

// Encodes float32 '<f4' C-order .npy (version 1.0, header padded to 64 bytes as numpy does).
std::string encode_npy(const std::vector<int64_t>& shape, const float* data);
// Writes atomically (temporary file + rename).
void write_npy(const std::filesystem::path& path, const std::vector<int64_t>& shape,
               const float* data);

}  // namespace reelscale::model
