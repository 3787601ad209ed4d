// .safetensors: round trip through the writer, validation errors, malformed input.
#include <gtest/gtest.h>

#include <cstring>

#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "tests/worker/model/checkpoint/pth_writer.hpp"
#include "tests/testing/test_env.hpp"
#include "worker/model/checkpoint.hpp"
#include "worker/model/safetensors_reader.hpp"

namespace reelscale::model {
namespace {

std::string header_file(const std::string& json, const std::string& data) {
  std::string out;
  for (int k = 0; k < 8; ++k) out += static_cast<char>((json.size() >> (8 * k)) & 0xff);
  return out + json + data;
}

std::string error_of(const std::string& bytes) {
  return ::reelscale::testing::thrown<Error>([&] { read_checkpoint_bytes(bytes, "w.safetensors"); });
}

TEST(Safetensors, RoundTripKeepsNamesOrderDtypesShapesAndBytes) {
  const std::string a = testing::f32_bytes({1, 2, 3, 4, 5, 6});
  const std::string b = testing::u16_bytes({0x3C00, 0xBC00});
  const std::string c = testing::u16_bytes({0x3F80});
  const std::string d(8, '\x07');
  std::vector<SafetensorsTensor> in = {
      {"generator.z.weight", DType::F32, {2, 3}, a},
      {"generator.a.half", DType::F16, {2}, b},
      {"generator.m.bf", DType::BF16, {1, 1}, c},
      {"generator.count", DType::I64, {}, d},
      {"generator.empty", DType::F32, {0, 4}, {}},
  };
  testing::TempDir dir;
  const auto path = dir / "m.safetensors";
  write_file_atomic(path, serialize_safetensors(in, {{"format", "pt"}}));

  const std::string bytes = read_file(path);
  ASSERT_TRUE(looks_like_safetensors(bytes));
  SafetensorsHeader h = parse_safetensors(bytes, "m");
  EXPECT_EQ(h.metadata.at("format"), "pt");
  ASSERT_EQ(h.entries.size(), 5u);
  EXPECT_EQ((8 + h.entries[0].begin) % 8, 0u) << "data starts 8-byte aligned";

  TensorTable t = read_checkpoint(path.string());
  EXPECT_EQ(t.format, CheckpointFormat::Safetensors);
  EXPECT_EQ(t.stripped_prefix, "generator.");
  EXPECT_EQ(t.order, (std::vector<std::string>{"z.weight", "a.half", "m.bf", "count", "empty"}));
  for (const auto& s : in) {
    const TensorRecord& r = t.tensors.at(s.name.substr(10));
    EXPECT_EQ(r.dtype, s.dtype) << s.name;
    EXPECT_EQ(r.shape, s.shape) << s.name;
    EXPECT_EQ(std::string(r.data.begin(), r.data.end()), std::string(s.data)) << s.name;
  }
  EXPECT_EQ(summarize(path.string()).total_elements, 6 + 2 + 1 + 1 + 0);
}

TEST(Safetensors, ValidationErrorsNameTheTensorAndTheProblem) {
  const std::string data(16, '\0');
  auto hdr = [&](const std::string& entry) { return header_file("{\"w\":" + entry + "}", data); };
  EXPECT_NE(error_of(hdr(R"({"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})")).find("(no error)"), std::string::npos);
  EXPECT_NE(error_of(hdr(R"({"dtype":"F8_E4M3","shape":[16],"data_offsets":[0,16]})")).find("tensor 'w': unsupported dtype 'F8_E4M3'"), std::string::npos);
  EXPECT_NE(error_of(hdr(R"({"dtype":"F32","shape":[2,2],"data_offsets":[0,20]})")).find("outside the 16 data bytes"), std::string::npos);
  EXPECT_NE(error_of(hdr(R"({"dtype":"F32","shape":[2,3],"data_offsets":[0,16]})")).find("holds 16 bytes but dtype F32 and its shape need 24"), std::string::npos);
  EXPECT_NE(error_of(hdr(R"({"dtype":"F32","shape":[-2,2],"data_offsets":[0,16]})")).find("non-negative integer"), std::string::npos);
  EXPECT_NE(error_of(hdr(R"({"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]})")).find("overflowing"), std::string::npos);
  EXPECT_NE(error_of(hdr(R"({"shape":[4],"data_offsets":[0,16]})")).find("missing string field 'dtype'"), std::string::npos);
  EXPECT_NE(error_of(hdr(R"({"dtype":"F32","shape":[4]})")).find("'data_offsets' must be"), std::string::npos);
  EXPECT_NE(error_of(header_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", data))
                .find("overlap"), std::string::npos);
  EXPECT_NE(error_of(header_file("{\"w\": [1,2", data)).find("not valid JSON"), std::string::npos);
  std::string huge = header_file("{}", "");
  huge[4] = 1;  // a header length of 2^32 + 2 bytes
  EXPECT_NE(error_of(huge).find("neither"), std::string::npos) << "not recognised as safetensors at all";
  EXPECT_THROW(parse_safetensors(huge, "h"), Error);
  EXPECT_THROW(parse_safetensors("short", "h"), Error);
}

TEST(Safetensors, TruncationsAndFlipsNeverCrash) {
  const std::string a = testing::f32_bytes({1, 2, 3, 4});
  const std::string file = serialize_safetensors({{"x", DType::F32, {2, 2}, a}, {"y", DType::F16, {2}, std::string_view(a).substr(0, 4)}});
  for (std::size_t n = 0; n < file.size(); ++n) {
    try {
      read_checkpoint_bytes(file.substr(0, n), "cut");
      // Cutting only the data (not the header) cannot go unnoticed either.
      ADD_FAILURE() << "a file cut to " << n << " bytes was accepted";
    } catch (const Error&) {
    }
    for (unsigned char x : {0x01, 0x20, 0xff}) {
      std::string m = file;
      m[n] = static_cast<char>(m[n] ^ x);
      try {
        read_checkpoint_bytes(m, "flip");
      } catch (const Error&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << "non-reelscale exception at byte " << n << ": " << e.what();
      }
    }
  }
}

}  // namespace
}  // namespace reelscale::model
