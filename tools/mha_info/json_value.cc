#include "json_value.h"

#include <cstdio>

namespace mha_tools {
namespace {

void WriteQuoted(std::ostream& out, const std::string& s) {
  out << '"';
  for (const char c : s) {
    switch (c) {
      case '"': out << "\\\""; break;
      case '\\': out << "\\\\"; break;
      case '\n': out << "\\n"; break;
      case '\t': out << "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out << buf;
        } else {
          out << c;
        }
    }
  }
  out << '"';
}

std::string Spaces(int n) { return std::string(static_cast<size_t>(n), ' '); }

}  // namespace

JsonValue& JsonValue::Push(JsonValue v) {
  members_.emplace_back(std::string(), std::move(v));
  return members_.back().second;
}

JsonValue& JsonValue::Set(const std::string& key, JsonValue v) {
  for (auto& [k, value] : members_) {
    if (k == key) return value = std::move(v);
  }
  members_.emplace_back(key, std::move(v));
  return members_.back().second;
}

void JsonValue::WriteScalar(std::ostream& out, bool quote) const {
  switch (kind_) {
    case Kind::kNull: out << "null"; break;
    case Kind::kBool: out << (number_ != 0 ? "true" : "false"); break;
    case Kind::kNumber: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6g", number_);
      out << buf;
      break;
    }
    case Kind::kString:
      if (quote) {
        WriteQuoted(out, text_);
      } else {
        out << text_;
      }
      break;
    default: break;
  }
}

void JsonValue::WriteJson(std::ostream& out, int indent) const {
  if (IsScalar()) return WriteScalar(out, true);
  const bool object = kind_ == Kind::kObject;
  out << (object ? '{' : '[');
  for (size_t i = 0; i < members_.size(); ++i) {
    out << (i ? ",\n" : "\n") << Spaces(indent + 2);
    if (object) {
      WriteQuoted(out, members_[i].first);
      out << ": ";
    }
    members_[i].second.WriteJson(out, indent + 2);
  }
  if (!members_.empty()) out << '\n' << Spaces(indent);
  out << (object ? '}' : ']');
}

void JsonValue::WriteText(std::ostream& out, int indent) const {
  if (IsScalar()) {
    WriteScalar(out, false);
    out << '\n';
    return;
  }
  // An array of scalars fits on one line.
  bool flat = kind_ == Kind::kArray;
  for (const auto& m : members_) flat = flat && m.second.IsScalar();
  if (flat) {
    for (size_t i = 0; i < members_.size(); ++i) {
      if (i) out << ' ';
      members_[i].second.WriteScalar(out, false);
    }
    out << '\n';
    return;
  }
  if (members_.empty()) {
    out << "(none)\n";
    return;
  }
  if (indent > 0) out << '\n';
  for (const auto& [key, value] : members_) {
    out << Spaces(indent) << (key.empty() ? "-" : key + ":") << ' ';
    value.WriteText(out, indent + 2);
  }
}

}  // namespace mha_tools
