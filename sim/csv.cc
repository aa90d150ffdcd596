#include "sim/csv.h"

#include <charconv>
#include <fstream>
#include <sstream>

namespace sluice::sim {

namespace {

std::vector<std::string> SplitLine(std::string_view line) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    out.emplace_back(
        line.substr(start, comma == std::string_view::npos ? line.npos : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

Result<CsvTable> CsvTable::Read(const std::string& path, const std::vector<std::string>& required) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open the file");
  std::ostringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path, required);
}

Result<CsvTable> CsvTable::Parse(std::string_view text, const std::string& name,
                                 const std::vector<std::string>& required) {
  CsvTable t;
  t.name_ = name;
  int32_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (t.columns_.empty()) {
      t.columns_ = SplitLine(line);
      continue;
    }
    std::vector<std::string> fields = SplitLine(line);
    if (fields.size() != t.columns_.size()) {
      return Status::InvalidArgument(
          name + ":" + std::to_string(line_no) + ": expected " + std::to_string(t.columns_.size()) +
          " comma-separated fields " + "as in the header, found " + std::to_string(fields.size()));
    }
    t.rows_.push_back(std::move(fields));
    t.lines_.push_back(line_no);
  }
  if (t.columns_.empty()) return Status::InvalidArgument(name + ": empty file, expected a header");
  for (const std::string& c : required) {
    if (!t.has_column(c)) {
      std::string have;
      for (const std::string& h : t.columns_) have += (have.empty() ? "" : ",") + h;
      return Status::InvalidArgument(name + ":1: missing column \"" + c + "\" (the header has " +
                                     have + ")");
    }
  }
  return t;
}

int CsvTable::ColumnIndex(std::string_view column) const {
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i] == column) return static_cast<int>(i);
  }
  return -1;
}

std::string_view CsvTable::Field(size_t row, std::string_view column) const {
  const int i = ColumnIndex(column);
  if (i < 0) return {};
  return rows_[row][static_cast<size_t>(i)];
}

Result<int64_t> CsvTable::Integer(size_t row, std::string_view column) const {
  const std::string_view f = Field(row, column);
  int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
  if (f.empty() || ec != std::errc() || ptr != f.data() + f.size() || v < 0) {
    return Status::InvalidArgument(Where(row) + ": column \"" + std::string(column) +
                                   "\": expected a non-negative integer, got \"" + std::string(f) +
                                   "\"");
  }
  return v;
}

std::string CsvTable::Where(size_t row) const { return name_ + ":" + std::to_string(lines_[row]); }

}  // namespace sluice::sim
