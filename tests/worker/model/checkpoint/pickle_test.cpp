// The pickle parser on its own: values, memo, limits and the errors it gives.
#include <gtest/gtest.h>

#include "shared/util/errors.hpp"
#include "tests/testing/test_env.hpp"
#include "tests/worker/model/checkpoint/pth_writer.hpp"
#include "worker/model/pickle_reader.hpp"

namespace reelscale::model::pickle {
namespace {

using reelscale::testing::PickleWriter;
using namespace std::string_literals;

std::string error_of(const std::string& bytes) {
  return ::reelscale::testing::thrown<Error>([&] { parse(bytes, "t.pkl"); });
}

TEST(Pickle, ReadsScalarsStringsAndContainers) {
  PickleWriter p;
  p.op('}').mark();
  p.str("neg").integer(-5);
  p.str("i32").integer(-100000);
  p.str("i64").integer(int64_t{1} << 40);
  p.str("f").real(-2.5);
  p.str("t").mark().integer(1).op('N').op('\x88').op('t');
  p.str("l").op(']').mark().str("x").str("y").op('e');
  p.str("neg1").raw(std::string("\x8a\x01\xff", 3));   // LONG1 -1
  p.str("short").raw(std::string("\x8c\x02hi", 4));    // SHORT_BINUNICODE
  p.str("bytes").raw(std::string("C\x03\x00\x01\x02", 5));  // SHORT_BINBYTES
  p.str("neg").integer(-6);  // a repeated key replaces the value, as in Python
  p.op('u').stop();
  Document d = parse(p.bytes(), "t.pkl");
  ASSERT_EQ(d.root.kind, Kind::Dict);
  EXPECT_EQ(d.container(d.root).entries.size(), 9u);
  EXPECT_EQ(d.find(d.root, "neg")->i, -6);
  EXPECT_EQ(d.find(d.root, "i32")->i, -100000);
  EXPECT_EQ(d.find(d.root, "i64")->i, int64_t{1} << 40);
  EXPECT_EQ(d.find(d.root, "f")->f, -2.5);
  EXPECT_EQ(d.find(d.root, "neg1")->i, -1);
  EXPECT_EQ(d.find(d.root, "short")->str(), "hi");
  EXPECT_EQ(d.find(d.root, "bytes")->kind, Kind::Bytes);
  const Container& t = d.container(*d.find(d.root, "t"));
  ASSERT_EQ(t.items.size(), 3u);
  EXPECT_EQ(t.items[1].kind, Kind::None);
  EXPECT_EQ(t.items[2].kind, Kind::Bool);
  EXPECT_EQ(d.container(*d.find(d.root, "l")).items.size(), 2u);
  EXPECT_EQ(d.find(d.root, "absent"), nullptr);
}

TEST(Pickle, MemoSharesMutableContainersAndCyclesAreHarmless) {
  PickleWriter p;
  p.op(']').put(0);                  // L = []
  p.get(0).op('a');                  // L.append(L): a cycle
  p.op('}').str("k").get(0).op('s'); // {"k": L}
  p.op('\x86').stop();               // (L, {"k": L})
  Document d = parse(p.bytes(), "t.pkl");
  const Container& tup = d.container(d.root);
  ASSERT_EQ(tup.items.size(), 2u);
  EXPECT_EQ(tup.items[0].i, d.find(tup.items[1], "k")->i);  // the same list object
  EXPECT_EQ(d.container(tup.items[0]).items[0].i, tup.items[0].i);
}

TEST(Pickle, ErrorsNameTheOpcodeAndOffset) {
  EXPECT_NE(error_of(std::string("\x80\x02\xff", 3)).find("opcode 0xff: unsupported pickle opcode"), std::string::npos);
  EXPECT_NE(error_of(std::string("\x80\x02\xff", 3)).find("byte offset 2"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02X\x10\x00\x00\x00"s + "abc").find("truncated pickle: needs 16 bytes, only 3 remain"), std::string::npos);
  EXPECT_NE(error_of(std::string("\x80\x02", 2)).find("no STOP"), std::string::npos);
  EXPECT_NE(error_of(std::string("\x80\x02.", 3)).find("stack underflow"), std::string::npos);
  EXPECT_NE(error_of(std::string("\x80\x02h\x07.", 5)).find("memo key 7 was never stored"), std::string::npos);
  EXPECT_NE(error_of(std::string("\x80\x02K\x01(.", 6)).find("stack underflow"), std::string::npos)
      << "a value below a MARK is not poppable";
  EXPECT_NE(error_of(std::string("\x80\x02K\x01K\x02" "a.", 8)).find("expects a list"), std::string::npos);
  EXPECT_NE(error_of(std::string("\x80\x09N.", 4)).find("protocol 9"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02" "cposix\nsystem\n.").find("'posix.system' is not on the allowlist"), std::string::npos);
  // Python 0-protocol text opcodes are outside the subset.
  EXPECT_NE(error_of("\x80\x02I1\n.").find("0x49 'I'"), std::string::npos);
  // A storage type may only appear inside a persistent id.
  EXPECT_NE(error_of("\x80\x02" "ctorch\nFloatStorage\n)R.").find("may only appear in a persistent id"), std::string::npos);
  // A persistent id other than torch's storage tuple.
  EXPECT_NE(error_of("\x80\x02X\x01\x00\x00\x00xQ."s).find("persistent id is a str"), std::string::npos);
}

TEST(Pickle, NestingAndSizesAreCapped) {
  std::string deep = "\x80\x02" + std::string(5000, '(');
  EXPECT_NE(error_of(deep).find("MARKs nested deeper than 4096"), std::string::npos);
  Limits small;
  small.max_string = 4;
  EXPECT_THROW(parse("\x80\x02X\x05\x00\x00\x00hello."s, "t", small), Error);
  small.max_stack = 3;
  EXPECT_THROW(parse("\x80\x02NNNN.", "t", small), Error);
  // Deep nesting through containers (no MARK) is fine: the arena makes values flat.
  std::string lists = "\x80\x02";
  for (int k = 0; k < 100000; ++k) lists += "]";
  for (int k = 0; k < 99999; ++k) lists += "a";
  lists += ".";
  Document d = parse(lists, "t");
  EXPECT_EQ(d.root.kind, Kind::List);
}

TEST(Pickle, AcceptsProtocol4FramingAndStackGlobal) {
  std::string p = "\x80\x04\x95";
  p += std::string("\x10\x00\x00\x00\x00\x00\x00\x00", 8);
  p += "\x8c\x0b" "collections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94.";
  Document d = parse(p, "t");
  EXPECT_EQ(d.root.kind, Kind::Dict);
  EXPECT_EQ(d.container(d.root).entries.size(), 0u);
}

TEST(Pickle, TensorRecordsCarryStorageAndView) {
  PickleWriter p;
  p.mark();
  p.tensor("HalfStorage", "s", 8, 2, {2, 3}, {1, 2});
  p.tensor("HalfStorage", "s", 8, 0, {4}, {2}, true);
  p.op('t').stop();
  Document d = parse(p.bytes(), "t");
  ASSERT_EQ(d.tensors.size(), 2u);
  ASSERT_EQ(d.storages.size(), 1u) << "one storage shared by both views";
  EXPECT_EQ(d.storages[0].dtype, DType::F16);
  EXPECT_EQ(d.storages[0].key, "s");
  EXPECT_EQ(d.storages[0].numel, 8);
  EXPECT_EQ(d.tensors[0].offset, 2);
  EXPECT_EQ(d.tensors[0].shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(d.tensors[0].stride, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(d.container(d.root).items[1].kind, Kind::Tensor);

  PickleWriter bad;
  bad.mark();
  bad.tensor("HalfStorage", "s", 8, 0, {1}, {1});
  bad.tensor("FloatStorage", "s", 8, 0, {1}, {1});
  bad.op('t').stop();
  EXPECT_NE(error_of(bad.bytes()).find("referenced with different type or size"), std::string::npos);
}

TEST(Pickle, AllowlistIsNarrow) {
  EXPECT_TRUE(global_allowed("collections", "OrderedDict"));
  EXPECT_TRUE(global_allowed("torch._utils", "_rebuild_tensor_v2"));
  EXPECT_TRUE(global_allowed("torch", "BFloat16Storage"));
  EXPECT_FALSE(global_allowed("torch.storage", "_load_from_bytes"));
  EXPECT_FALSE(global_allowed("torch", "load"));
  EXPECT_FALSE(global_allowed("builtins", "getattr"));
  EXPECT_FALSE(global_allowed("builtins", "eval"));
  EXPECT_FALSE(global_allowed("os", "system"));
  EXPECT_FALSE(global_allowed("subprocess", "Popen"));
}

}  // namespace
}  // namespace reelscale::model::pickle
