// Table: left-aligned columns for the CLI's readable output.
#ifndef SLUICE_CLI_TABLE_H_
#define SLUICE_CLI_TABLE_H_

#include <ostream>
#include <string>
#include <vector>

namespace sluice {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  // Prints the header and rows; the last column is never padded.
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace sluice

#endif  // SLUICE_CLI_TABLE_H_
