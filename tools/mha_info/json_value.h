// A small ordered JSON value for command-line tools: build it, then print it as JSON or
// as indented "key: value" text for a terminal.
#ifndef MHA_TOOLS_JSON_VALUE_H_
#define MHA_TOOLS_JSON_VALUE_H_

#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace mha_tools {

class JsonValue {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  JsonValue() = default;
  JsonValue(bool b) : kind_(Kind::kBool), number_(b) {}           // NOLINT
  JsonValue(int n) : kind_(Kind::kNumber), number_(n) {}          // NOLINT
  JsonValue(double n) : kind_(Kind::kNumber), number_(n) {}       // NOLINT
  JsonValue(const char* s) : kind_(Kind::kString), text_(s ? s : "") {}  // NOLINT
  JsonValue(std::string s) : kind_(Kind::kString), text_(std::move(s)) {}  // NOLINT

  static JsonValue Array() { return JsonValue(Kind::kArray); }
  static JsonValue Object() { return JsonValue(Kind::kObject); }

  // Appends to an array.
  JsonValue& Push(JsonValue v);
  // Sets a member of an object, keeping insertion order.
  JsonValue& Set(const std::string& key, JsonValue v);

  void WriteJson(std::ostream& out, int indent = 0) const;
  void WriteText(std::ostream& out, int indent = 0) const;

 private:
  explicit JsonValue(Kind kind) : kind_(kind) {}
  bool IsScalar() const { return kind_ != Kind::kArray && kind_ != Kind::kObject; }
  void WriteScalar(std::ostream& out, bool quote) const;

  Kind kind_ = Kind::kNull;
  double number_ = 0;
  std::string text_;
  std::vector<std::pair<std::string, JsonValue>> members_;  // arrays: empty keys
};

}  // namespace mha_tools

#endif  // MHA_TOOLS_JSON_VALUE_H_
