package sqlstmt

// FirstWord is firstWord, for the lexer's tests.
var FirstWord = firstWord
