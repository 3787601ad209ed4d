#pragma once
// Coordinator <-> worker messages (docs/protocol.md). Each ZeroMQ message carries one frame:
// a MessagePack map {"v": version, "t": type, ...fields}; file bytes (storage: stream) travel
// as a MessagePack bin field of a `chunk`. Decoding is strict: anything
// malformed, truncated, oversized, of another version or with unknown/missing/mistyped fields
// throws ProtocolError with a reason, so a hostile or buggy peer can never crash the reader.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "shared/config/modes.hpp"
#include "shared/shard/shard_range.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::protocol {

// 2: storage "stream" (fetch/chunk, segment and upload fields), the coordinator's
// preprocessing plan in `assign`.
constexpr int kVersion = 2;
// Largest message the decoder accepts. Control messages are a few hundred bytes; the cut
// list of a shard is the only variable part.
constexpr size_t kMaxMessageBytes = 1 << 20;
// ZMQ_MAXMSGSIZE on every socket: above it libzmq drops the connection itself. Set above the
// decoder's limit so that moderately oversized messages are rejected and counted by us.
constexpr int64_t kMaxWireBytes = 2 * int64_t(kMaxMessageBytes);
constexpr size_t kMaxStringBytes = 4096;
constexpr size_t kMaxIdBytes = 128;
constexpr size_t kMaxCuts = 65536;
constexpr size_t kMaxListItems = 64;
// One chunk of a file transfer (storage: stream). With kMaxCredit chunks in flight a
// transfer holds at most 1 MiB in the sockets' queues.
constexpr size_t kChunkBytes = 256 * 1024;
constexpr int kMaxCredit = 4;
constexpr size_t kMaxSidecarBytes = 64 * 1024;
constexpr size_t kMaxPreprocessBytes = 16 * 1024;

struct ProtocolError : Error {
  using Error::Error;
};

struct Ready {
  int protocol = kVersion;
  std::string software;        // reelscale version
  std::string name;            // host:gpu, for people
  int64_t pid = 0;
  std::string gpu_name;        // "" = CPU only
  int64_t gpu_memory_mb = 0;
  std::vector<std::string> codecs;
  std::vector<std::string> storage;  // the config words of the storage modes the worker supports
  std::string busy_shard;      // non-empty after a reconnect while still executing
};

struct Assign {
  // The shard's id (wire field shard_id), frame ranges and the absolute frame numbers of the
  // scene cuts inside its context.
  shard::ShardRange range;
  int64_t attempt = 0;
  std::string source;          // shared storage: the input path as every machine mounts it
  std::string config_hash;
  config::StorageMode storage = config::StorageMode::shared;  // on the wire: its config word
  std::string output_dir;      // shared storage: the shard directory as every machine mounts it
  std::string output_name;     // file name inside output_dir, chosen by the coordinator
  int64_t lease_ms = 0;
  std::string preprocess;      // the film's preprocessing plan (JSON); "" = decide it yourself
  // storage "stream": the source segment to fetch (item "source"): its first frame is source
  // frame segment_first_frame; its size and BLAKE2b-256 are checked after the transfer.
  int64_t segment_first_frame = 0;
  int64_t segment_bytes = 0;
  std::string segment_checksum;
};

struct Progress {
  std::string shard_id;
  int64_t attempt = 0;
  int64_t frames_done = 0;
};

struct Done {
  std::string shard_id;
  int64_t attempt = 0;
  std::string output_name;     // must equal the assignment's; never used as a path as is
  int64_t frame_count = 0;
  std::string checksum;
  double decode_s = 0, upscale_s = 0, encode_s = 0, total_s = 0;
  // storage "stream": the coordinator fetches the file (item "output") and checks these.
  int64_t output_bytes = 0;
  std::string output_checksum;  // BLAKE2b-256 hex of the whole file
  std::string sidecar;          // the shard's sidecar JSON (worker/encode), "" when none
};

struct Failed {
  std::string shard_id;
  int64_t attempt = 0;
  std::string reason;
  bool retryable = true;
};

struct Heartbeat {};

struct Disconnect {
  std::string reason;
  bool reconnect = false;      // true: come back with READY; false: the job is over, exit
};

// Credit-based transfer (the zguide's fileio3): the RECEIVER asks for one chunk per `fetch`
// and keeps at most kMaxCredit fetches outstanding, so the sender never has more than that in
// flight. The worker fetches item "source" (its segment); the coordinator fetches "output"
// (the encoded shard) after a `done`.
struct Fetch {
  std::string shard_id;
  int64_t attempt = 0;
  std::string item;             // source | output
  int64_t offset = 0;
  int64_t size = 0;             // at most kChunkBytes
};

struct Chunk {
  std::string shard_id;
  int64_t attempt = 0;
  std::string item;
  int64_t offset = 0;
  std::string data;             // bytes [offset, offset + data.size())
  bool last = false;            // data ends the file
  std::string error;            // non-empty: the sender cannot serve this item; give up
};

using Message = std::variant<Ready, Assign, Progress, Done, Failed, Heartbeat, Disconnect, Fetch,
                             Chunk>;

std::string encode(const Message& m);
Message decode(std::string_view bytes);  // throws ProtocolError

// The message's type name as on the wire ("ready", "assign", ...).
const char* type_name(const Message& m);

// Shard ids and output names travel between processes and end up in file names: only
// [A-Za-z0-9._-], not starting with '.', at most kMaxIdBytes.
bool is_safe_name(std::string_view s);

}  // namespace reelscale::protocol
