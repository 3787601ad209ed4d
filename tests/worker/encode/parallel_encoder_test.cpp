#include "worker/encode/parallel_encoder.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <stdexcept>

#include "shared/util/errors.hpp"

namespace reelscale::encode {
namespace {

// A stand-in encoder: one packet per frame carrying the frame number; can fail or drop frames.
class FakeEncoder : public media::FrameEncoder {
 public:
  explicit FakeEncoder(int64_t fail_at = -1, int64_t drop = -1) : fail_at_(fail_at), drop_(drop) {}
  void encode(const AVFrame* frame, std::vector<av::PacketPtr>& out) override {
    if (frame->pts == fail_at_) throw MediaError("fake encoder: frame " + std::to_string(frame->pts));
    if (frame->pts == drop_) return;
    auto p = av::make_packet();
    av::check(av_new_packet(p.get(), 8), "packet");
    std::memcpy(p->data, &frame->pts, 8);
    p->pts = frame->pts;
    out.push_back(std::move(p));
  }
  void flush(std::vector<av::PacketPtr>&) override {}

 private:
  int64_t fail_at_, drop_;
};

av::FramePtr blank_frame() {
  auto f = av::make_frame();
  f->width = 2;
  f->height = 2;
  return f;
}

TEST(ParallelEncoder, DeliversPacketsInFrameOrder) {
  for (int workers : {1, 2, 5}) {
    std::vector<int64_t> seen;
    ParallelEncoder enc(workers, [](int) { return std::make_unique<FakeEncoder>(); },
                        [&](av::PacketPtr p) {
                          int64_t n = 0;
                          std::memcpy(&n, p->data, 8);
                          seen.push_back(n);
                        });
    for (int i = 0; i < 53; ++i) enc.submit(blank_frame());
    enc.finish();
    ASSERT_EQ(seen.size(), 53u);
    for (int64_t i = 0; i < 53; ++i) EXPECT_EQ(seen[size_t(i)], i);
    EXPECT_EQ(enc.packets_delivered(), 53);
  }
}

TEST(ParallelEncoder, AWorkerErrorReachesTheCaller) {
  ParallelEncoder enc(3, [](int) { return std::make_unique<FakeEncoder>(/*fail_at=*/7); },
                      [](av::PacketPtr) {});
  bool thrown = false;
  try {
    for (int i = 0; i < 200; ++i) enc.submit(blank_frame());
    enc.finish();
  } catch (const MediaError& e) {
    thrown = true;
    EXPECT_NE(std::string(e.what()).find("frame 7"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(thrown);
  // Once failed, it stays failed.
  EXPECT_THROW(enc.submit(blank_frame()), MediaError);
}

TEST(ParallelEncoder, AFailingSinkStopsEverythingWithoutDeadlock) {
  std::atomic<int> written{0};
  ParallelEncoder enc(
      4, [](int) { return std::make_unique<FakeEncoder>(); },
      [&](av::PacketPtr) {
        if (written.fetch_add(1) == 3) throw std::runtime_error("disk full");
      },
      1);
  bool thrown = false;
  try {
    for (int i = 0; i < 500; ++i) enc.submit(blank_frame());
    enc.finish();
  } catch (const std::runtime_error& e) {
    thrown = true;
    EXPECT_STREQ(e.what(), "disk full");
  }
  EXPECT_TRUE(thrown);
  EXPECT_EQ(written.load(), 4);  // nothing after the failure
}

TEST(ParallelEncoder, AMissingPacketIsAnError) {
  ParallelEncoder enc(2, [](int) { return std::make_unique<FakeEncoder>(-1, /*drop=*/4); },
                      [](av::PacketPtr) {});
  for (int i = 0; i < 10; ++i) enc.submit(blank_frame());
  EXPECT_THROW(enc.finish(), MediaError);
}

TEST(ParallelEncoder, DestroyedMidStreamJoinsCleanly) {
  int delivered = 0;
  {
    ParallelEncoder enc(3, [](int) { return std::make_unique<FakeEncoder>(); },
                        [&](av::PacketPtr) { ++delivered; });
    for (int i = 0; i < 20; ++i) enc.submit(blank_frame());
  }
  EXPECT_LE(delivered, 20);
}

TEST(ParallelEncoder, AFactoryErrorSurfacesFromTheConstructor) {
  EXPECT_THROW(ParallelEncoder(3,
                               [](int i) -> std::unique_ptr<media::FrameEncoder> {
                                 if (i == 2) throw MediaError("no encoder");
                                 return std::make_unique<FakeEncoder>();
                               },
                               [](av::PacketPtr) {}),
               MediaError);
  EXPECT_THROW(ParallelEncoder(0, [](int) { return std::make_unique<FakeEncoder>(); },
                               [](av::PacketPtr) {}),
               Error);
}

}  // namespace
}  // namespace reelscale::encode
