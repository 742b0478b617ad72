// core/text, core/ini and core/pg/array_literal: the small shared text helpers.
#include <catch2/catch.hpp>

#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/ini.hpp"
#include "core/pg/array_literal.hpp"
#include "core/text.hpp"
#include "temp_dir.hpp"

using namespace pokeflow;
namespace text = pokeflow::core::text;
namespace pg = pokeflow::core::pg;

TEST_CASE("trim and split_list drop white space and empty items", "[text]") {
  CHECK(text::trim("  a b \t\r\n") == "a b");
  CHECK(text::trim(" \t\r\n") == "");
  CHECK(text::trim("") == "");
  CHECK(text::split_list(" a, b,,c ,") == std::vector<std::string>{"a", "b", "c"});
  CHECK(text::split_list("").empty());
  CHECK(text::split_list(" , ").empty());
  CHECK(text::split_list("x\n y \n\n", '\n') == std::vector<std::string>{"x", "y"});
}

TEST_CASE("read_file returns the bytes and names the file it cannot read", "[text]") {
  pokeflow::test::temp_dir dir;
  auto path = dir.file("f.txt");
  std::ofstream(path, std::ios::binary) << std::string("a\0b\n", 4);
  CHECK(text::read_file(path) == std::string("a\0b\n", 4));
  std::ofstream(dir.file("empty"));
  CHECK(text::read_file(dir.file("empty")).empty());
  CHECK_THROWS_WITH(text::read_file(dir.file("missing"), "ledger"),
                    Catch::Contains("cannot read ledger " + dir.file("missing")));
}

TEST_CASE("JSON escaping covers quotes, backslashes and control characters only", "[text]") {
  CHECK(text::json_escape("plain") == "plain");
  CHECK(text::json_escape("a\"b\\c") == "a\\\"b\\\\c");
  CHECK(text::json_escape("\n\r\t") == "\\n\\r\\t");
  CHECK(text::json_escape(std::string("\x01\x1f", 2)) == "\\u0001\\u001f");
  CHECK(text::json_escape(std::string("\0", 1)) == "\\u0000");
  CHECK(text::json_escape("Pokémon ✓ /") == "Pokémon ✓ /");  // UTF-8 and '/' pass through
  CHECK(text::json_string("a\"") == "\"a\\\"\"");
  std::string out = "x";
  text::append_json_escaped(out, "\"");
  CHECK(out == "x\\\"");
}

TEST_CASE("the INI reader: comments, sections, trimming, quotes, line numbers", "[ini]") {
  auto e = core::ini::parse("# comment\n; also\n[section]\n\n  a = 1 \nb=\"two words\"\r\nc =\nd = x = y\n");
  REQUIRE(e.size() == 4);
  CHECK(e[0].key == "a");
  CHECK(e[0].value == "1");
  CHECK(e[0].line == 5);
  CHECK(e[1].key == "b");
  CHECK(e[1].value == "two words");  // CRLF and the quotes are gone
  CHECK(e[2].key == "c");
  CHECK(e[2].value == "");
  CHECK(e[3].value == "x = y");  // the first '=' splits
  CHECK(core::ini::parse("").empty());
  CHECK(core::ini::parse("last = no newline")[0].value == "no newline");
  CHECK(core::ini::parse("q = \"\"")[0].value == "");
  CHECK(core::ini::parse("q = \"")[0].value == "\"");  // a lone quote stays
  CHECK_THROWS_AS(core::ini::parse("a = 1\nnot a pair\n"), std::invalid_argument);
  CHECK_THROWS_WITH(core::ini::parse("a = 1\nnot a pair\n"), Catch::Contains("line 2"));
  CHECK_THROWS_WITH(core::ini::parse(" = value\n"), Catch::Contains("line 1: expected name = value"));
}

TEST_CASE("PostgreSQL array literals quote and escape every element", "[pg]") {
  using v = std::vector<std::string>;
  CHECK(pg::array_literal(v{}) == "{}");
  CHECK(pg::array_literal(v{"a"}) == R"({"a"})");
  CHECK(pg::array_literal(v{"1", "2.5", "-3"}) == R"({"1","2.5","-3"})");
  CHECK(pg::array_literal(v{"say \"hi\""}) == R"({"say \"hi\""})");
  CHECK(pg::array_literal(v{"back\\slash", "\\"}) == R"({"back\\slash","\\"})");
  CHECK(pg::array_literal(v{"{braces}", "a,b", " spaced "}) == R"({"{braces}","a,b"," spaced "})");
  CHECK(pg::array_literal(v{"", ""}) == R"({"",""})");
  CHECK(pg::array_literal(v{"NULL", "null"}) == R"({"NULL","null"})");  // quoted: text, not a null element
  CHECK(pg::array_literal(v{"Pokémon", "日本"}) == "{\"Pokémon\",\"日本\"}");
  CHECK(pg::array_literal(v{"'); DROP TABLE poke_orders; --"}) == R"({"'); DROP TABLE poke_orders; --"})");
  CHECK(pg::array_literal(v{"line\nbreak\ttab"}) == "{\"line\nbreak\ttab\"}");
  CHECK_THROWS_AS(pg::array_literal(v{"ok", std::string("a\0b", 3)}), std::invalid_argument);

  pg::array_literal_builder b;
  CHECK(b.str() == "{}");
  b.add("x");
  b.add("\"");
  CHECK(b.size() == 2);
  CHECK(b.str() == R"({"x","\""})");
}
