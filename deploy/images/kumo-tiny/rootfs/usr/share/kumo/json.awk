# json.awk: flattens a JSON document into one "path<TAB>value" line per scalar, so the boot
# script can read meta_data.json without jq. Object keys and array indexes are joined with
# "/": {"public_keys": {"k": "ssh-ed25519 AAAA"}, "keys": [{"name": "k"}]} gives
#   public_keys/k	ssh-ed25519 AAAA
#   keys/0/name	k
# Escapes: \" \\ \/ are decoded; \n \r \t become a space (values stay on one line); \uXXXX
# is kept as written. Runs under busybox awk.

function unesc(v,    out, i, c, n) {
	out = ""
	n = length(v)
	for (i = 1; i <= n; i++) {
		c = substr(v, i, 1)
		if (c == "\\" && i < n) {
			i++
			c = substr(v, i, 1)
			if (c == "n" || c == "r" || c == "t") c = " "
			else if (c == "u") c = "\\u"
			else if (c == "b" || c == "f") c = ""
		}
		out = out c
	}
	return out
}

function path(    p, i) {
	p = ""
	for (i = 1; i <= depth; i++) p = p (i > 1 ? "/" : "") name[i]
	return p
}

{ doc = doc $0 " " }

END {
	s = doc
	n = length(s)
	depth = 0
	for (i = 1; i <= n; i++) {
		c = substr(s, i, 1)
		if (c == "\"") {
			j = i + 1
			start = j
			while (j <= n) {
				c2 = substr(s, j, 1)
				if (c2 == "\\") { j += 2; continue }
				if (c2 == "\"") break
				j++
			}
			v = substr(s, start, j - start)
			i = j
			k = i + 1
			while (k <= n && substr(s, k, 1) ~ /[ \t\r\n]/) k++
			if (depth > 0 && !isarr[depth] && substr(s, k, 1) == ":") {
				name[depth] = unesc(v)
				i = k
				continue
			}
			print path() "\t" unesc(v)
			continue
		}
		if (c == "{" || c == "[") {
			depth++
			isarr[depth] = (c == "[")
			name[depth] = isarr[depth] ? 0 : ""
			continue
		}
		if (c == "}" || c == "]") { depth--; continue }
		if (c == ",") {
			if (isarr[depth]) name[depth]++
			continue
		}
		if (c ~ /[-0-9tfn]/) {
			j = i
			while (j <= n && substr(s, j, 1) !~ /[],} \t\r\n]/) j++
			print path() "\t" substr(s, i, j - i)
			i = j - 1
		}
	}
}
