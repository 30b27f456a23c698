//===- Package.cpp - a compiled quantc package, loaded and checked --------===//

#include "qc/runtime/Package.h"

#include "../HAL/GPUDevice.h"
#include "qc/Model/SHA256.h"
#include "qc/runtime/KernelParallelFor.h"

#include <nlohmann/json.hpp>

#include <dlfcn.h>
#include <fstream>
#include <limits>
#include <sstream>

using namespace qc;
using namespace qc::runtime;
using json = nlohmann::json;

namespace {

/// An integer JSON value that int64_t holds (no unsigned wrap-around).
bool isInt64(const json &v) {
  return v.is_number_integer() &&
         !(v.is_number_unsigned() &&
           v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()));
}

/// Typed field access that turns every mistake into a message naming the
/// field.
class Fields {
public:
  Fields(const json &object, std::string path, std::string_view source)
      : object_(object), path_(std::move(path)), source_(source) {}

  Status error(const std::string &field, const std::string &what) const {
    return Status::error(std::string(source_) + ": field '" + path_ + field +
                         "' " + what);
  }
  const json *find(const std::string &field) const {
    auto it = object_.find(field);
    return it == object_.end() ? nullptr : &*it;
  }
  StatusOr<const json *> present(const std::string &field) const {
    const json *v = find(field);
    if (!v)
      return error(field, "is missing");
    return v;
  }
  StatusOr<int64_t> integer(const std::string &field) const {
    QC_ASSIGN_OR_RETURN(const json *v, present(field));
    if (!isInt64(*v))
      return error(field, "must be an integer (64-bit)");
    return v->get<int64_t>();
  }
  StatusOr<std::string> string(const std::string &field) const {
    QC_ASSIGN_OR_RETURN(const json *v, present(field));
    if (!v->is_string())
      return error(field, "must be a string");
    return v->get<std::string>();
  }
  StatusOr<std::vector<int64_t>> integers(const std::string &field) const {
    QC_ASSIGN_OR_RETURN(const json *v, present(field));
    if (!v->is_array())
      return error(field, "must be a list of integers");
    std::vector<int64_t> out;
    for (const json &item : *v) {
      if (!isInt64(item))
        return error(field, "must be a list of integers (64-bit)");
      out.push_back(item.get<int64_t>());
    }
    return out;
  }
  StatusOr<Fields> object(const std::string &field) const {
    QC_ASSIGN_OR_RETURN(const json *v, present(field));
    if (!v->is_object())
      return error(field, "must be an object");
    return Fields(*v, path_ + field + ".", source_);
  }

private:
  const json &object_;
  std::string path_;
  std::string_view source_;
};

StatusOr<DType> dtypeField(const Fields &f, const std::string &field) {
  QC_ASSIGN_OR_RETURN(std::string name, f.string(field));
  std::optional<DType> dtype = parseDType(name);
  if (!dtype)
    return f.error(field, "names an unknown dtype '" + name + "'");
  return *dtype;
}

} // namespace

StatusOr<PackageManifest> qc::runtime::parseManifest(std::string_view text,
                                                     std::string_view source) {
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object())
    return Status::error(std::string(source) + ": not a JSON object");
  Fields top(root, "", source);
  PackageManifest m;
  QC_ASSIGN_OR_RETURN(std::string format, top.string("format"));
  if (format != "quantc-package")
    return top.error("format", "is '" + format + "', not 'quantc-package'");
  QC_ASSIGN_OR_RETURN(int64_t version, top.integer("version"));
  if (version != abi::kPackageFormatVersion)
    return top.error("version", "is " + std::to_string(version) +
                                    " but this runtime reads version " +
                                    std::to_string(abi::kPackageFormatVersion) +
                                    "; recompile the package");
  QC_ASSIGN_OR_RETURN(std::string target, top.string("target"));
  StatusOr<Target> parsedTarget = parseTarget(target);
  if (!parsedTarget)
    return top.error("target",
                     "is not valid: " + parsedTarget.status().message());
  m.target = std::move(parsedTarget).value();

  QC_ASSIGN_OR_RETURN(Fields model, top.object("model"));
  QC_ASSIGN_OR_RETURN(m.architecture, model.string("architecture"));
  QC_ASSIGN_OR_RETURN(m.vocabSize, model.integer("vocab_size"));
  QC_ASSIGN_OR_RETURN(m.hiddenSize, model.integer("hidden_size"));
  QC_ASSIGN_OR_RETURN(m.numLayers, model.integer("num_layers"));
  QC_ASSIGN_OR_RETURN(m.maxPositionEmbeddings,
                      model.integer("max_position_embeddings"));
  QC_ASSIGN_OR_RETURN(m.bosTokenIds, model.integers("bos_token_ids"));
  QC_ASSIGN_OR_RETURN(m.eosTokenIds, model.integers("eos_token_ids"));

  QC_ASSIGN_OR_RETURN(Fields cache, top.object("kv_cache"));
  QC_ASSIGN_OR_RETURN(m.cacheLayers, cache.integer("num_layers"));
  QC_ASSIGN_OR_RETURN(m.numKvHeads, cache.integer("num_kv_heads"));
  QC_ASSIGN_OR_RETURN(m.headDim, cache.integer("head_dim"));
  QC_ASSIGN_OR_RETURN(m.blockSize, cache.integer("block_size"));
  QC_ASSIGN_OR_RETURN(m.cacheDType, dtypeField(cache, "dtype"));
  for (auto [name, value] :
       {std::pair{"vocab_size", m.vocabSize},
        {"num_layers", m.cacheLayers},
        {"num_kv_heads", m.numKvHeads},
        {"head_dim", m.headDim},
        {"block_size", m.blockSize},
        {"max_position_embeddings", m.maxPositionEmbeddings}})
    if (value <= 0 || value > (int64_t(1) << 32))
      return Status::error(std::string(source) + ": '" + name +
                           "' must be a positive size, got " +
                           std::to_string(value));

  QC_ASSIGN_OR_RETURN(Fields kernels, top.object("kernels"));
  QC_ASSIGN_OR_RETURN(m.library, kernels.string("library"));
  QC_ASSIGN_OR_RETURN(m.librarySha256, kernels.string("library_sha256"));
  QC_ASSIGN_OR_RETURN(m.entry, kernels.string("entry"));
  QC_ASSIGN_OR_RETURN(m.argmaxEntry, kernels.string("argmax"));
  QC_ASSIGN_OR_RETURN(m.sampleEntry, kernels.string("sample"));
  const json *args = kernels.find("args");
  if (!args || !args->is_array())
    return kernels.error("args", "must be a list");
  for (size_t i = 0; i < args->size(); ++i) {
    if (!(*args)[i].is_object())
      return kernels.error("args", "must be a list of objects");
    Fields arg((*args)[i], "kernels.args[" + std::to_string(i) + "].", source);
    KernelArg a;
    QC_ASSIGN_OR_RETURN(a.name, arg.string("name"));
    QC_ASSIGN_OR_RETURN(a.dtype, dtypeField(arg, "dtype"));
    QC_ASSIGN_OR_RETURN(a.shape, arg.integers("shape"));
    for (int64_t d : a.shape)
      if (d < -1)
        return arg.error("shape", "has a negative dimension");
    m.args.push_back(std::move(a));
  }
  if (m.args.size() < kNumFixedKernelArgs)
    return kernels.error("args", "lists fewer than the 8 fixed arguments");
  for (size_t i = 0; i < kNumFixedKernelArgs; ++i)
    if (m.args[i].name != kForwardArgNames[i])
      return kernels.error("args", "argument " + std::to_string(i) + " is '" +
                                       m.args[i].name + "', expected '" +
                                       kForwardArgNames[i] + "'");
  const KernelArg &logits = m.args[abi::kLogits];
  if (logits.dtype != DType::F32 || logits.shape.size() != 2 ||
      logits.shape[1] != m.vocabSize)
    return kernels.error("args", "'logits' must be F32 [-1, vocab_size]");
  for (size_t i : {abi::kKeyCache, abi::kValueCache}) {
    const KernelArg &c = m.args[i];
    if (c.dtype != m.cacheDType || c.shape.size() != 3 ||
        c.shape[0] != m.cacheLayers || c.shape[2] != m.numKvHeads * m.headDim)
      return kernels.error(
          "args", "'" + c.name + "' does not match the kv_cache geometry");
  }

  QC_ASSIGN_OR_RETURN(m.weightsFile, top.string("weights"));
  if (const json *tok = top.find("tokenizer"); tok && tok->is_string())
    m.tokenizerFile = tok->get<std::string>();
  // Files must stay inside the package directory.
  std::vector<const std::string *> files = {&m.library, &m.weightsFile};
  if (m.tokenizerFile)
    files.push_back(&*m.tokenizerFile);
  for (const std::string *file : files)
    if (file->empty() || file->find('/') != std::string::npos || *file == "." ||
        *file == "..")
      return Status::error(std::string(source) + ": file name '" + *file +
                           "' must be a plain name inside the package");
  return m;
}

abi::KernelSignature qc::runtime::signatureOf(const PackageManifest &m) {
  abi::KernelSignature sig{m.entry, m.argmaxEntry, m.sampleEntry, {}};
  for (const KernelArg &a : m.args)
    sig.args.push_back({a.name, std::string(dtypeName(a.dtype)), a.shape});
  return sig;
}

namespace {

/// The first line where two signature texts differ, for the message.
std::string firstDifference(const std::string &manifest,
                            const std::string &library) {
  std::istringstream a(manifest), b(library);
  std::string la, lb;
  while (true) {
    bool moreA = bool(std::getline(a, la)), moreB = bool(std::getline(b, lb));
    if (!moreA && !moreB)
      return "same lines";
    if (la != lb || moreA != moreB)
      return "manifest '" + (moreA ? la : "<end>") + "', library '" +
             (moreB ? lb : "<end>") + "'";
  }
}

} // namespace

Package::~Package() {
  if (library_)
    dlclose(library_);
}

std::span<const uint8_t> Package::weight(size_t i) const {
  return weights_->data(*weightInfos_[i]);
}

StatusOr<std::unique_ptr<Package>> Package::load(const std::string &dir) {
  std::string manifestPath = dir + "/manifest.json";
  std::ifstream in(manifestPath);
  if (!in)
    return Status::error(manifestPath +
                         ": cannot open (is this a quantc package?)");
  std::stringstream text;
  text << in.rdbuf();
  std::unique_ptr<Package> pkg(new Package());
  pkg->dir_ = dir;
  QC_ASSIGN_OR_RETURN(pkg->manifest_, parseManifest(text.str(), manifestPath));
  const PackageManifest &m = pkg->manifest_;

  // Every weight argument must be in the weights file, with its dtype and
  // shape, before any kernel reads it.
  std::string weightsPath = dir + "/" + m.weightsFile;
  QC_ASSIGN_OR_RETURN(pkg->weights_, SafeTensorsFile::open(weightsPath));
  for (size_t i = kNumFixedKernelArgs; i < m.args.size(); ++i) {
    const KernelArg &arg = m.args[i];
    const TensorInfo *info = pkg->weights_->find(arg.name);
    if (!info)
      return Status::error(weightsPath + ": missing weight '" + arg.name +
                           "' that the kernels take");
    if (info->dtype != arg.dtype || info->shape != arg.shape)
      return Status::error(weightsPath + ": weight '" + arg.name + "' is " +
                           std::string(dtypeName(info->dtype)) + " " +
                           formatShape(info->shape) + ", the kernels take " +
                           std::string(dtypeName(arg.dtype)) + " " +
                           formatShape(arg.shape));
    pkg->weightInfos_.push_back(info);
  }

  // The device first: a GPU kernels.so loads its code into it from a
  // constructor that runs inside dlopen.
  StatusOr<std::shared_ptr<Device>> device = openDevice(m.target);
  if (!device)
    return Status(device.status())
        .withContext(manifestPath + ": target '" + m.target.str() + "'");
  pkg->device_ = std::move(device).value();
  (void)pkg->device_->takeError();
  (void)hal::takeOrphanGPUError();

  // The library must be the one the manifest was written with before any
  // of its code runs (dlopen runs its constructors).
  std::string libraryPath = dir + "/" + m.library;
  QC_ASSIGN_OR_RETURN(std::string digest, sha256File(libraryPath));
  if (digest != m.librarySha256)
    return Status::error(libraryPath +
                         ": SHA-256 differs from the manifest's "
                         "kernels.library_sha256 (the kernel library was "
                         "changed or replaced after compilation); recompile "
                         "the package");
  pkg->library_ = dlopen(libraryPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!pkg->library_)
    return Status::error(libraryPath + ": cannot load kernels: " + dlerror());
  // What the module constructors hit (e.g. code for another GPU).
  if (Status s = pkg->device_->takeError(); !s)
    return std::move(s).withContext(libraryPath + ": cannot load the GPU code");
  if (Status s = hal::takeOrphanGPUError(); !s)
    return std::move(s).withContext(libraryPath);
  // Its own record of its entry points and what they take must be the
  // manifest's, or a call would read arguments it was not given.
  const char *recorded = static_cast<const char *>(
      dlsym(pkg->library_, abi::kKernelSignatureSymbol));
  if (!recorded)
    return Status::error(libraryPath + ": no '" + abi::kKernelSignatureSymbol +
                         "' (not a quantc kernel library?)");
  if (std::string expected = signatureOf(m).text(); expected != recorded)
    return Status::error(manifestPath + ": the kernels do not match " +
                         libraryPath + " (" +
                         firstDifference(expected, recorded) + ")");
  auto lookup = [&](const std::string &name) {
    return reinterpret_cast<PackedEntry>(dlsym(pkg->library_, name.c_str()));
  };
  pkg->entry_ = lookup(m.entry);
  pkg->argmax_ = lookup(m.argmaxEntry);
  pkg->sample_ = lookup(m.sampleEntry);
  for (auto [fn, name] : {std::pair{pkg->entry_, &m.entry},
                          {pkg->argmax_, &m.argmaxEntry},
                          {pkg->sample_, &m.sampleEntry}})
    if (!fn)
      return Status::error(libraryPath + ": no entry point '" + *name + "'");
  // CPU kernels built with parallel loops ask the runtime for threads
  // through this slot; older libraries and GPU packages have none.
  if (m.target.kind == DeviceKind::CPU)
    if (auto *slot = static_cast<abi::QcParallelFor *>(
            dlsym(pkg->library_, abi::kCpuParallelForSymbol))) {
      installKernelParallelFor(slot);
      pkg->parallelKernels_ = true;
    }
  return pkg;
}
