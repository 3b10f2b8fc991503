module github.com/mem0-gov/examples/go

go 1.21
