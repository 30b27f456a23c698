//===- Tokenizer.cpp - Hugging Face byte-level BPE tokenizer --------------===//

#include "qc/runtime/Tokenizer.h"

#include "AddedTokens.h"
#include "BPE.h"
#include "ByteLevel.h"
#include "Json.h"
#include "PreTokenizer.h"
#include "Unicode.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace qc::runtime {

namespace detail {
struct TokenizerState {
  BPEModel model;
  PreTokenizer preTokenizer;
  AddedTokenMatcher added;
  StringMap<int32_t> addedByContent;

  enum class Kind : uint8_t { None, Normal, Special };
  /// Indexed by id: the raw bytes of each token and what it is.
  std::vector<std::string> bytes;
  std::vector<Kind> kinds;
  std::optional<int32_t> bos;
};
} // namespace detail

using namespace detail;

namespace {
std::string typeOf(const Json &config) {
  const Json *type = findMember(config, "type");
  return type && type->is_string() ? type->get<std::string>() : "?";
}

Status checkDecoder(const Json *decoder) {
  if (!decoder)
    return Status::error("no 'decoder' (a ByteLevel decoder is required)");
  if (typeOf(*decoder) != "ByteLevel")
    return Status::error("unsupported decoder '" + typeOf(*decoder) +
                         "' (only ByteLevel)");
  return Status::ok();
}

/// The TemplateProcessing post-processor, alone or inside a Sequence.
const Json *findTemplate(const Json *processor) {
  if (!processor)
    return nullptr;
  if (typeOf(*processor) == "TemplateProcessing")
    return processor;
  if (typeOf(*processor) == "Sequence")
    if (const Json *steps = findMember(*processor, "processors"))
      if (steps->is_array())
        for (const Json &step : *steps)
          if (typeOf(step) == "TemplateProcessing")
            return &step;
  return nullptr;
}

/// The id of an added token's content or of a vocabulary spelling.
std::optional<int32_t> lookupToken(const TokenizerState &state,
                                   std::string_view token) {
  if (auto it = state.addedByContent.find(token);
      it != state.addedByContent.end())
    return it->second;
  if (auto it = state.model.vocab().find(token);
      it != state.model.vocab().end())
    return it->second;
  return std::nullopt;
}

/// Fills the tables indexed by id from the vocabulary and the added tokens.
Status buildIdTables(TokenizerState &state) {
  using Kind = TokenizerState::Kind;
  // Real vocabularies are dense; the bound keeps a hostile id from sizing the
  // tables.
  size_t entries = state.model.vocab().size() + state.added.tokens().size();
  int64_t maxId = -1;
  for (const auto &[token, id] : state.model.vocab())
    maxId = std::max<int64_t>(maxId, id);
  for (const AddedToken &token : state.added.tokens())
    maxId = std::max<int64_t>(maxId, token.id);
  if (maxId < 0)
    return Status::error("the vocabulary is empty");
  if (uint64_t(maxId) >= 2 * entries + 1024)
    return Status::error("token id " + std::to_string(maxId) +
                         " is far beyond the " + std::to_string(entries) +
                         " tokens of the vocabulary");
  state.bytes.resize(maxId + 1);
  state.kinds.resize(maxId + 1, Kind::None);
  for (const auto &[token, id] : state.model.vocab()) {
    if (state.kinds[id] != Kind::None)
      return Status::error("two vocabulary tokens share id " +
                           std::to_string(id) + " (one is '" + token + "')");
    byteLevelDecode(token, state.bytes[id]);
    state.kinds[id] = Kind::Normal;
  }
  // Added tokens win over the vocabulary, as in Hugging Face's decode.
  for (const AddedToken &token : state.added.tokens()) {
    state.bytes[token.id].clear();
    byteLevelDecode(token.content, state.bytes[token.id]);
    state.kinds[token.id] = token.special ? Kind::Special : Kind::Normal;
    state.addedByContent.insert_or_assign(token.content, token.id);
  }
  return Status::ok();
}

/// Sets state.bos from a TemplateProcessing post-processor. Only a special
/// token in front of the sequence is applied (as bos); a trailing one (an eos
/// that some templates append) is left to the caller.
Status findBos(TokenizerState &state, const Json *processor) {
  // Post-processors that add tokens in ways not applied here are refused
  // rather than silently dropping their tokens (BOS above all). ByteLevel
  // only adjusts offsets.
  auto known = [](const Json &p) {
    std::string type = typeOf(p);
    return type == "TemplateProcessing" || type == "ByteLevel";
  };
  if (processor && !processor->is_null()) {
    std::vector<const Json *> steps = {processor};
    if (typeOf(*processor) == "Sequence") {
      const Json *list = findMember(*processor, "processors");
      if (!list || !list->is_array())
        return Status::error("post_processor: a Sequence without a "
                             "'processors' list");
      steps.clear();
      for (const Json &step : *list)
        steps.push_back(&step);
    }
    for (const Json *step : steps)
      if (!known(*step))
        return Status::error("post_processor: unsupported type '" +
                             std::string(typeOf(*step)) +
                             "' (only TemplateProcessing and ByteLevel, "
                             "alone or in a Sequence)");
  }
  const Json *tmpl = findTemplate(processor);
  const Json *single = tmpl ? findMember(*tmpl, "single") : nullptr;
  if (!single || !single->is_array() || single->empty())
    return Status::ok();
  const Json *special = findMember((*single)[0], "SpecialToken");
  if (!special)
    return Status::ok();
  QC_ASSIGN_OR_RETURN(auto name,
                      stringMember(*special, "id", "post_processor"));
  if (!name)
    return Status::error("post_processor: SpecialToken without an id");
  // The template lists the ids of its special tokens; fall back on the name.
  std::optional<int64_t> id;
  const Json *specials = findMember(*tmpl, "special_tokens");
  const Json *entry = specials ? findMember(*specials, *name) : nullptr;
  const Json *ids = entry ? findMember(*entry, "ids") : nullptr;
  if (ids && ids->is_array() && ids->size() == 1 &&
      (*ids)[0].is_number_integer())
    id = (*ids)[0].get<int64_t>();
  else
    id = lookupToken(state, *name);
  if (!id || *id < 0 || *id >= int64_t(state.kinds.size()) ||
      state.kinds[*id] == TokenizerState::Kind::None)
    return Status::error("post_processor names the unknown token '" + *name +
                         "'");
  state.bos = static_cast<int32_t>(*id);
  return Status::ok();
}
} // namespace

Tokenizer::Tokenizer(std::unique_ptr<TokenizerState> state)
    : state_(std::move(state)) {}
Tokenizer::Tokenizer(Tokenizer &&) noexcept = default;
Tokenizer &Tokenizer::operator=(Tokenizer &&) noexcept = default;
Tokenizer::~Tokenizer() = default;

StatusOr<Tokenizer> Tokenizer::fromFile(const std::string &path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return Status::error(path + ": no such tokenizer file");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in || !text)
    return Status::error(path + ": cannot read the tokenizer file");
  return fromJson(text.str(), path);
}

StatusOr<Tokenizer> Tokenizer::fromJson(std::string_view jsonText,
                                        const std::string &source) {
  QC_ASSIGN_OR_RETURN(Json root, parseJson(jsonText, source));
  auto fail = [&](const Status &status) {
    return Status(status).withContext(source);
  };
  if (!root.is_object())
    return Status::error(source + ": the top level must be an object");

  const Json *modelConfig = findMember(root, "model");
  if (!modelConfig || !modelConfig->is_object())
    return Status::error(source + ": no 'model' object");
  // Old files omit the type; a BPE model is recognized by its merges.
  const Json *modelType = findMember(*modelConfig, "type");
  if (modelType ? typeOf(*modelConfig) != "BPE"
                : !findMember(*modelConfig, "merges"))
    return Status::error(source + ": unsupported model type '" +
                         typeOf(*modelConfig) + "' (only BPE)");
  if (const Json *normalizer = findMember(root, "normalizer"))
    return Status::error(source + ": unsupported normalizer '" +
                         typeOf(*normalizer) +
                         "' (byte-level BPE tokenizers have none)");
  const Json *preConfig = findMember(root, "pre_tokenizer");
  if (!preConfig)
    return Status::error(source + ": no 'pre_tokenizer' (a ByteLevel "
                                  "pre-tokenizer is required)");
  if (Status s = checkDecoder(findMember(root, "decoder")); !s)
    return fail(s);

  auto model = BPEModel::fromJson(*modelConfig);
  if (!model)
    return fail(model.status());
  auto preTokenizer = PreTokenizer::fromJson(*preConfig);
  if (!preTokenizer)
    return fail(preTokenizer.status());
  static const Json kNoTokens = Json::array();
  const Json *addedConfig = findMember(root, "added_tokens");
  auto added =
      AddedTokenMatcher::fromJson(addedConfig ? *addedConfig : kNoTokens);
  if (!added)
    return fail(added.status());
  auto state =
      std::make_unique<TokenizerState>(TokenizerState{std::move(*model),
                                                      std::move(*preTokenizer),
                                                      std::move(*added),
                                                      {},
                                                      {},
                                                      {},
                                                      std::nullopt});

  QC_RETURN_IF_ERROR(buildIdTables(*state).withContext(source));
  QC_RETURN_IF_ERROR(
      findBos(*state, findMember(root, "post_processor")).withContext(source));
  return Tokenizer(std::move(state));
}

StatusOr<std::vector<int32_t>>
Tokenizer::encode(std::string_view text, bool addBos, bool parseSpecial) const {
  std::vector<int32_t> ids;
  if (addBos) {
    if (!state_->bos)
      return Status::error("cannot add a bos token: the tokenizer's "
                           "post_processor names none");
    ids.push_back(*state_->bos);
  }
  std::vector<std::string> pieces;
  for (const TextSegment &segment : state_->added.split(text, parseSpecial)) {
    if (segment.addedId >= 0) {
      ids.push_back(segment.addedId);
      continue;
    }
    pieces.clear();
    state_->preTokenizer.split(segment.text, pieces);
    for (const std::string &piece : pieces)
      state_->model.encodePiece(piece, ids);
  }
  return ids;
}

StatusOr<std::string> Tokenizer::decode(std::span<const int32_t> ids,
                                        bool skipSpecial) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (skipSpecial && isSpecial(id))
      continue;
    QC_ASSIGN_OR_RETURN(std::string_view tokenText, tokenBytes(id));
    bytes.append(tokenText);
  }
  std::string text;
  appendSanitizedUtf8(bytes, /*final=*/true, text);
  return text;
}

int32_t Tokenizer::vocabSize() const {
  return static_cast<int32_t>(state_->kinds.size());
}

std::optional<int32_t> Tokenizer::bosId() const { return state_->bos; }

std::optional<int32_t> Tokenizer::tokenToId(std::string_view token) const {
  return lookupToken(*state_, token);
}

bool Tokenizer::isSpecial(int32_t id) const {
  return id >= 0 && id < vocabSize() &&
         state_->kinds[id] == TokenizerState::Kind::Special;
}

StatusOr<std::string_view> Tokenizer::tokenBytes(int32_t id) const {
  if (id < 0 || id >= vocabSize() ||
      state_->kinds[id] == TokenizerState::Kind::None)
    return Status::error("token id " + std::to_string(id) +
                         " is not in the vocabulary (size " +
                         std::to_string(vocabSize()) + ")");
  return std::string_view(state_->bytes[id]);
}

} // namespace qc::runtime
