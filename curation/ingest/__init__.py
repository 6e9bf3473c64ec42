"""Getting documents in: WARC reading, main-text extraction, page types, inputs, Common Crawl
downloads and the non-web sources (code, acquired text, Q&A dumps)."""
