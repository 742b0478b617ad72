// libFuzzer target: the hand-written Kafka protocol decoders (src/core/kafka/protocol.*), fed
// a response body as a broker would send it. A malformed body must end in decode_error, never
// in a crash, a sanitizer report or an allocation sized by an untrusted length.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/kafka/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace p = pokeflow::core::kafka::protocol;
  std::span<const std::uint8_t> body(data, size);
  try {
    (void)p::decode_alter_partition_reassignments(body);
  } catch (const p::decode_error&) {
  }
  try {
    (void)p::decode_list_partition_reassignments(body);
  } catch (const p::decode_error&) {
  }
  return 0;
}
