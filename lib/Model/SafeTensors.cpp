//===- SafeTensors.cpp - safetensors reader and writer --------------------===//

#include "qc/Model/SafeTensors.h"
#include "qc/Model/OutputPaths.h"

#include "MappedFile.h"
#include "qc/Support/Json.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <set>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>

namespace qc {

using detail::Json;

namespace {
constexpr uint64_t kLengthPrefixBytes = 8;
constexpr const char *kMetadataKey = "__metadata__";

/// Bytes needed by a tensor of `shape` and `dtype`, rejecting negative
/// dimensions and sizes that do not fit in 64 bits (nor the element count in
/// int64_t).
StatusOr<uint64_t> tensorByteSize(DType dtype, std::span<const int64_t> shape) {
  uint64_t elements = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0)
      return Status::error("dimension " + std::to_string(i) + " of shape " +
                           formatShape(shape) + " is negative");
    if (__builtin_mul_overflow(elements, static_cast<uint64_t>(shape[i]),
                               &elements) ||
        elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return Status::error("shape " + formatShape(shape) +
                           " has too many elements (overflows 64 bits)");
  }
  uint64_t bytes;
  if (__builtin_mul_overflow(elements, dtypeSize(dtype), &bytes))
    return Status::error("shape " + formatShape(shape) + " of " +
                         std::string(dtypeName(dtype)) +
                         " overflows 64-bit byte sizes");
  return bytes;
}

/// A JSON non-negative integer that fits in int64_t, else nullopt.
std::optional<int64_t> asNonNegativeInt(const Json &value) {
  std::optional<int64_t> v = detail::toInt64(value);
  return v && *v >= 0 ? v : std::nullopt;
}

/// `value` as JSON, cut short so that a hostile header cannot produce a
/// megabyte-long message.
std::string excerpt(const Json &value) {
  std::string text = value.dump();
  return text.size() <= 40 ? text : text.substr(0, 37) + "...";
}

std::string typeError(const std::string &field, const char *expected,
                      const Json &got) {
  return "field '" + field + "' must be " + expected + ", got " +
         std::string(got.type_name()) + " " + excerpt(got);
}

/// Validates one header entry; `dataSize` bounds the offsets.
StatusOr<TensorInfo> parseTensorEntry(const std::string &name,
                                      const Json &entry, uint64_t dataSize) {
  if (!entry.is_object())
    return Status::error("entry must be a JSON object, got " +
                         std::string(entry.type_name()));
  for (const auto &[key, value] : entry.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      return Status::error("unexpected field '" + key + "'");
  for (const char *key : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(key))
      return Status::error(std::string("missing field '") + key + "'");

  TensorInfo info;
  info.name = name;
  const Json &dtype = entry["dtype"];
  if (!dtype.is_string())
    return Status::error(typeError("dtype", "a string", dtype));
  std::optional<DType> parsed = parseDType(dtype.get<std::string>());
  if (!parsed)
    return Status::error("unknown dtype '" + dtype.get<std::string>() + "'");
  info.dtype = *parsed;

  const Json &shape = entry["shape"];
  if (!shape.is_array())
    return Status::error(typeError("shape", "an array", shape));
  for (size_t i = 0; i < shape.size(); ++i) {
    std::optional<int64_t> dim = asNonNegativeInt(shape[i]);
    if (!dim)
      return Status::error("field 'shape': dimension " + std::to_string(i) +
                           " must be a non-negative integer, got " +
                           excerpt(shape[i]));
    info.shape.push_back(*dim);
  }
  QC_ASSIGN_OR_RETURN(uint64_t bytes, tensorByteSize(info.dtype, info.shape));

  const Json &offsets = entry["data_offsets"];
  std::optional<int64_t> begin, end;
  if (offsets.is_array() && offsets.size() == 2) {
    begin = asNonNegativeInt(offsets[0]);
    end = asNonNegativeInt(offsets[1]);
  }
  if (!begin || !end)
    return Status::error(typeError(
        "data_offsets", "an array of two non-negative integers", offsets));
  info.dataBegin = static_cast<uint64_t>(*begin);
  info.dataEnd = static_cast<uint64_t>(*end);
  std::string range = "data_offsets " + offsets.dump();
  if (info.dataBegin > info.dataEnd)
    return Status::error(range + " are reversed (begin > end)");
  if (info.dataEnd > dataSize)
    return Status::error(range + " run past the end of the " +
                         std::to_string(dataSize) + "-byte data section");
  if (info.byteSize() != bytes)
    return Status::error("shape " + formatShape(info.shape) + " of " +
                         std::string(dtypeName(info.dtype)) + " needs " +
                         std::to_string(bytes) + " bytes but " + range +
                         " span " + std::to_string(info.byteSize()));
  return info;
}

StatusOr<std::map<std::string, std::string>> parseMetadata(const Json &value) {
  if (!value.is_object())
    return Status::error(typeError(kMetadataKey, "an object", value));
  std::map<std::string, std::string> metadata;
  for (const auto &[key, entry] : value.items()) {
    if (!entry.is_string())
      return Status::error(
          typeError(std::string(kMetadataKey) + "." + key, "a string", entry));
    metadata.emplace(key, entry.get<std::string>());
  }
  return metadata;
}

/// Checks that `sorted` (ordered by offsets) tiles [0, dataSize) exactly.
Status checkCoverage(const std::vector<TensorInfo> &sorted, uint64_t dataSize) {
  uint64_t cursor = 0;
  const TensorInfo *previous = nullptr;
  for (const TensorInfo &t : sorted) {
    if (t.dataBegin < cursor)
      return Status::error("tensors '" + previous->name + "' and '" + t.name +
                           "' overlap at data offset " +
                           std::to_string(t.dataBegin));
    if (t.dataBegin > cursor)
      return Status::error(
          "gap of " + std::to_string(t.dataBegin - cursor) +
          " bytes at data offset " + std::to_string(cursor) + " before '" +
          t.name + "' (tensors must cover the data section contiguously)");
    cursor = t.dataEnd;
    previous = &t;
  }
  if (cursor != dataSize)
    return Status::error(std::to_string(dataSize - cursor) +
                         " trailing bytes after the last tensor, at data "
                         "offset " +
                         std::to_string(cursor));
  return Status::ok();
}

/// The length prefix and space-padded JSON header shared by both writers.
StatusOr<std::string>
encodeHeader(const std::vector<TensorToWrite> &tensors,
             const std::map<std::string, std::string> &metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty())
    header[kMetadataKey] = metadata;
  std::set<std::string_view> names;
  uint64_t offset = 0;
  for (const TensorToWrite &t : tensors) {
    auto fail = [&](const std::string &message) {
      return Status::error("tensor '" + t.name + "': " + message);
    };
    if (t.name == kMetadataKey)
      return fail("the name is reserved for metadata");
    if (!names.insert(t.name).second)
      return fail("duplicate tensor name");
    StatusOr<uint64_t> bytes = tensorByteSize(t.dtype, t.shape);
    if (!bytes)
      return fail(bytes.status().message());
    if (*bytes != t.bytes.size())
      return fail("has " + std::to_string(t.bytes.size()) +
                  " bytes, but shape " + formatShape(t.shape) + " of " +
                  std::string(dtypeName(t.dtype)) + " needs " +
                  std::to_string(*bytes));
    uint64_t end;
    if (__builtin_add_overflow(offset, *bytes, &end))
      return fail("data section overflows 64 bits");
    header[t.name] = {{"dtype", dtypeName(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, end}}};
    offset = end;
  }

  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::ordered_json::exception &e) {
    // dump() throws on names or metadata that are not valid UTF-8.
    return Status::error(std::string("cannot encode header: ") + e.what());
  }
  // Pad like the reference writer so the data section is 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string encoded(kLengthPrefixBytes, '\0');
  for (size_t i = 0; i < kLengthPrefixBytes; ++i)
    encoded[i] =
        static_cast<char>(static_cast<uint64_t>(text.size()) >> (8 * i));
  return encoded + text;
}

Status writeAll(int fd, const void *data, size_t size) {
  const auto *p = static_cast<const char *>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return Status::error(std::string("write failed: ") +
                           std::strerror(n < 0 ? errno : EIO));
    p += n;
    size -= static_cast<size_t>(n);
  }
  return Status::ok();
}
} // namespace

int64_t TensorInfo::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n))
      return -1; // Only hand-built infos can overflow; parsed ones cannot.
  return n;
}

std::string formatShape(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Out of line: detail::MappedFile is incomplete in the header.
SafeTensorsFile::SafeTensorsFile(std::string path) : path_(std::move(path)) {}
SafeTensorsFile::~SafeTensorsFile() = default;

StatusOr<std::unique_ptr<SafeTensorsFile>>
SafeTensorsFile::open(const std::string &path) {
  QC_ASSIGN_OR_RETURN(auto mapping, detail::MappedFile::open(path));
  std::unique_ptr<SafeTensorsFile> file(new SafeTensorsFile(path));
  std::span<const uint8_t> bytes = mapping->bytes();
  file->mapping_ = std::move(mapping);
  return parse(std::move(file), bytes);
}

StatusOr<std::unique_ptr<SafeTensorsFile>>
SafeTensorsFile::fromBuffer(std::vector<uint8_t> bytes, std::string name) {
  std::unique_ptr<SafeTensorsFile> file(new SafeTensorsFile(std::move(name)));
  file->buffer_ = std::move(bytes);
  std::span<const uint8_t> view = file->buffer_;
  return parse(std::move(file), view);
}

StatusOr<std::unique_ptr<SafeTensorsFile>>
SafeTensorsFile::parse(std::unique_ptr<SafeTensorsFile> file,
                       std::span<const uint8_t> bytes) {
  const std::string &path = file->path_;
  auto fail = [&](const std::string &message) {
    return Status::error(path + ": " + message);
  };
  if (bytes.size() < kLengthPrefixBytes)
    return fail("file too short (" + std::to_string(bytes.size()) +
                " bytes) to hold the 8-byte header length");
  uint64_t headerSize = 0;
  for (size_t i = 0; i < kLengthPrefixBytes; ++i)
    headerSize |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  if (headerSize > detail::kMaxJsonBytes)
    return fail("header length " + std::to_string(headerSize) +
                " exceeds the limit of " +
                std::to_string(detail::kMaxJsonBytes) + " bytes");
  if (headerSize > bytes.size() - kLengthPrefixBytes)
    return fail("truncated header: header length " +
                std::to_string(headerSize) + " but only " +
                std::to_string(bytes.size() - kLengthPrefixBytes) +
                " bytes follow the length");

  std::string_view headerText(reinterpret_cast<const char *>(bytes.data()) +
                                  kLengthPrefixBytes,
                              headerSize);
  QC_ASSIGN_OR_RETURN(Json header,
                      detail::parseJson(headerText, path + ": header"));
  if (!header.is_object())
    return fail("header must be a JSON object, got " +
                std::string(header.type_name()));

  file->dataSection_ = bytes.subspan(kLengthPrefixBytes + headerSize);
  uint64_t dataSize = file->dataSection_.size();
  std::vector<TensorInfo> &tensors = file->tensors_;
  // Duplicate names were already rejected by parseJson.
  for (const auto &[name, entry] : header.items()) {
    if (name == kMetadataKey) {
      StatusOr<std::map<std::string, std::string>> metadata =
          parseMetadata(entry);
      if (!metadata)
        return fail(metadata.status().message());
      file->metadata_ = std::move(*metadata);
      continue;
    }
    StatusOr<TensorInfo> info = parseTensorEntry(name, entry, dataSize);
    if (!info)
      return fail("tensor '" + name + "': " + info.status().message());
    tensors.push_back(std::move(*info));
  }

  std::sort(tensors.begin(), tensors.end(),
            [](const TensorInfo &a, const TensorInfo &b) {
              return std::tie(a.dataBegin, a.dataEnd, a.name) <
                     std::tie(b.dataBegin, b.dataEnd, b.name);
            });
  Status coverage = checkCoverage(tensors, dataSize);
  if (!coverage)
    return fail(coverage.message());
  for (size_t i = 0; i < tensors.size(); ++i)
    file->byName_.emplace(tensors[i].name, i);
  return file;
}

const TensorInfo *SafeTensorsFile::find(std::string_view name) const {
  auto it = byName_.find(name);
  return it == byName_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> SafeTensorsFile::data(const TensorInfo &tensor) const {
  return dataSection_.subspan(tensor.dataBegin, tensor.byteSize());
}

StatusOr<std::vector<uint8_t>>
serializeSafeTensors(const std::vector<TensorToWrite> &tensors,
                     const std::map<std::string, std::string> &metadata) {
  QC_ASSIGN_OR_RETURN(std::string header, encodeHeader(tensors, metadata));
  std::vector<uint8_t> image(header.begin(), header.end());
  for (const TensorToWrite &t : tensors)
    image.insert(image.end(), t.bytes.begin(), t.bytes.end());
  return image;
}

Status writeSafeTensors(const std::string &path,
                        const std::vector<TensorToWrite> &tensors,
                        const std::map<std::string, std::string> &metadata) {
  QC_RETURN_IF_ERROR(checkReplaceableFile(path));
  StatusOr<std::string> header = encodeHeader(tensors, metadata);
  if (!header)
    return Status(header.status()).withContext(path);
  // Write a temporary file and rename it over `path`: readers never see a
  // partial file, and a reader that still maps the old file keeps its bytes
  // instead of faulting on a truncated mapping.
  std::string temp = path + ".XXXXXX";
  int fd = ::mkstemp(temp.data());
  if (fd < 0)
    return Status::error(path + ": cannot create: " + std::strerror(errno));
  Status status =
      ::fchmod(fd, 0644) == 0
          ? writeAll(fd, header->data(), header->size())
          : Status::error(std::string("chmod failed: ") + std::strerror(errno));
  for (size_t i = 0; i < tensors.size() && status; ++i)
    status = writeAll(fd, tensors[i].bytes.data(), tensors[i].bytes.size());
  if (::close(fd) != 0 && status)
    status =
        Status::error(std::string("close failed: ") + std::strerror(errno));
  if (status && ::rename(temp.c_str(), path.c_str()) != 0)
    status =
        Status::error(std::string("rename failed: ") + std::strerror(errno));
  if (!status) {
    ::unlink(temp.c_str());
    return std::move(status).withContext(path);
  }
  return Status::ok();
}

} // namespace qc
