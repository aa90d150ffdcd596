// A small reader for the comma-separated trace files that `sluice sim`
// replays: a header line naming the columns, then one record per line.
// Fields are looked up by column name, so files whose columns come in
// another order or carry extra columns read the same; every error names
// the file, the line and the column. Values hold no commas or quotes in
// these traces, so none are interpreted. Plain value; thread-compatible.
#ifndef SLUICE_SIM_CSV_H_
#define SLUICE_SIM_CSV_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::sim {

class CsvTable {
 public:
  // Reads `path`; `required` columns must all be in the header.
  static Result<CsvTable> Read(const std::string& path, const std::vector<std::string>& required);
  // The same from text in memory (`name` stands for the file in messages).
  static Result<CsvTable> Parse(std::string_view text, const std::string& name,
                                const std::vector<std::string>& required);

  size_t rows() const { return rows_.size(); }
  bool has_column(std::string_view column) const { return ColumnIndex(column) >= 0; }
  // The raw field; empty when the column is absent.
  std::string_view Field(size_t row, std::string_view column) const;
  // A non-negative integer field, or an error naming file:line and column.
  Result<int64_t> Integer(size_t row, std::string_view column) const;
  // "FILE:LINE" of a record, for messages.
  std::string Where(size_t row) const;

 private:
  int ColumnIndex(std::string_view column) const;

  std::string name_;
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<int32_t> lines_;
};

}  // namespace sluice::sim

#endif  // SLUICE_SIM_CSV_H_
