module github.com/tearline/tearline

go 1.26.0
