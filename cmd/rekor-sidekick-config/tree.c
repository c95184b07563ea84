/*
 * Reads a YAML file with libyaml into a tree of struct node.  Aliases are
 * expanded; the node count is bounded so that an alias bomb fails cleanly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config.h"
#include "log.h"

#define TREE_MAX_NODES	100000
#define TREE_MAX_DEPTH	64

struct convert {
	yaml_document_t	*doc;
	const char	*path;
	size_t		 count;
	int		 failed;
};

static int
scalar_is_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
	    n->data.scalar.style != YAML_ANY_SCALAR_STYLE)
		return 0;
	if (n->tag != NULL && strcmp((const char *)n->tag, YAML_NULL_TAG) == 0)
		return 1;
	return strcmp(v, "") == 0 || strcmp(v, "~") == 0 ||
	    strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	    strcmp(v, "NULL") == 0;
}

/*
 * Returns whether a scalar contains a NUL character ("\0" in a quoted
 * YAML string), which would silently truncate the C string.
 */
static int
scalar_has_nul(const yaml_node_t *n)
{
	return memchr(n->data.scalar.value, '\0', n->data.scalar.length) !=
	    NULL;
}

/* Converts yn, the value of key (NULL at the top and in lists). */
static struct node *
convert_node(struct convert *c, yaml_node_t *yn, unsigned int depth,
    const char *key)
{
	struct node *n;
	yaml_node_pair_t *p;
	yaml_node_item_t *it;
	yaml_node_t *k;
	size_t i;

	if (yn == NULL || c->failed)
		return NULL;
	if (++c->count > TREE_MAX_NODES || depth > TREE_MAX_DEPTH) {
		log_error("%s: %zu:%zu: the document is too large or too "
		    "deeply nested (more than %d nodes after alias expansion "
		    "or %d levels)", c->path, yn->start_mark.line + 1,
		    yn->start_mark.column + 1, TREE_MAX_NODES,
		    TREE_MAX_DEPTH);
		c->failed = 1;
		return NULL;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL)
		goto nomem;
	n->line = yn->start_mark.line + 1;
	n->column = yn->start_mark.column + 1;
	switch (yn->type) {
	case YAML_SCALAR_NODE:
		if (scalar_is_null(yn)) {
			n->kind = NODE_NULL;
			break;
		}
		n->kind = NODE_SCALAR;
		if (scalar_has_nul(yn)) {
			if (key != NULL)
				log_error("%s:%zu:%zu: the value of '%s' contains "
				    "a NUL character; remove it", c->path,
				    n->line, n->column, key);
			else
				log_error("%s:%zu:%zu: a value contains a NUL "
				    "character; remove it", c->path, n->line,
				    n->column);
			c->failed = 1;
			goto fail;
		}
		if ((n->scalar = strdup((char *)yn->data.scalar.value)) ==
		    NULL)
			goto nomem;
		break;
	case YAML_MAPPING_NODE:
		n->kind = NODE_MAP;
		n->len = (size_t)(yn->data.mapping.pairs.top -
		    yn->data.mapping.pairs.start);
		if (n->len > 0 &&
		    (n->pairs = calloc(n->len, sizeof(*n->pairs))) == NULL)
			goto nomem;
		for (i = 0, p = yn->data.mapping.pairs.start;
		    p < yn->data.mapping.pairs.top; p++, i++) {
			k = yaml_document_get_node(c->doc, p->key);
			if (k == NULL || k->type != YAML_SCALAR_NODE ||
			    scalar_has_nul(k)) {
				log_error("%s: %zu:%zu: a mapping key must be "
				    "a plain string", c->path,
				    k != NULL ? k->start_mark.line + 1 : n->line,
				    k != NULL ? k->start_mark.column + 1 :
				    n->column);
				c->failed = 1;
				goto fail;
			}
			n->pairs[i].line = k->start_mark.line + 1;
			n->pairs[i].column = k->start_mark.column + 1;
			if ((n->pairs[i].key =
			    strdup((char *)k->data.scalar.value)) == NULL)
				goto nomem;
			n->pairs[i].value = convert_node(c,
			    yaml_document_get_node(c->doc, p->value),
			    depth + 1, n->pairs[i].key);
			if (n->pairs[i].value == NULL)
				goto fail;
		}
		break;
	case YAML_SEQUENCE_NODE:
		n->kind = NODE_SEQ;
		n->len = (size_t)(yn->data.sequence.items.top -
		    yn->data.sequence.items.start);
		if (n->len > 0 &&
		    (n->items = calloc(n->len, sizeof(*n->items))) == NULL)
			goto nomem;
		for (i = 0, it = yn->data.sequence.items.start;
		    it < yn->data.sequence.items.top; it++, i++) {
			n->items[i] = convert_node(c,
			    yaml_document_get_node(c->doc, *it), depth + 1,
			    key);
			if (n->items[i] == NULL)
				goto fail;
		}
		break;
	default:
		n->kind = NODE_NULL;
		break;
	}
	return n;
nomem:
	log_error("%s: out of memory", c->path);
	c->failed = 1;
fail:
	tree_free(n);
	return NULL;
}

/*
 * Parses the YAML file PATH.  An empty file gives an empty mapping.
 * Returns 0, or -1 after reporting the problem with its line and column.
 */
int
tree_load(const char *path, struct node **out)
{
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	struct convert c;
	yaml_node_t *root;
	FILE *fp;
	int rc = -1;

	*out = NULL;
	if ((fp = fopen(path, "rb")) == NULL) {
		log_error("cannot open config '%s': %s; pass --config FILE "
		    "(etc/config.yaml is a sample)", path, strerror(errno));
		return -1;
	}
	if (!yaml_parser_initialize(&parser)) {
		log_error("%s: out of memory", path);
		fclose(fp);
		return -1;
	}
	yaml_parser_set_input_file(&parser, fp);
	if (!yaml_parser_load(&parser, &doc)) {
		if (parser.context != NULL)
			log_error("%s:%zu:%zu: invalid YAML: %s %s; fix the "
			    "syntax at this position", path,
			    parser.problem_mark.line + 1,
			    parser.problem_mark.column + 1, parser.problem,
			    parser.context);
		else
			log_error("%s:%zu:%zu: invalid YAML: %s; fix the "
			    "syntax at this position", path,
			    parser.problem_mark.line + 1,
			    parser.problem_mark.column + 1,
			    parser.problem != NULL ? parser.problem :
			    "read error");
		goto out_parser;
	}
	memset(&c, 0, sizeof(c));
	c.doc = &doc;
	c.path = path;
	root = yaml_document_get_root_node(&doc);
	if (root == NULL) {
		if ((*out = calloc(1, sizeof(**out))) != NULL) {
			(*out)->kind = NODE_MAP;
			(*out)->line = (*out)->column = 1;
			rc = 0;
		}
	} else if ((*out = convert_node(&c, root, 0, NULL)) != NULL) {
		rc = 0;
	}
	yaml_document_delete(&doc);
	if (rc == 0) {
		/* A second document is almost always a stray "---". */
		if (!yaml_parser_load(&parser, &extra)) {
			log_error("%s:%zu:%zu: invalid YAML: %s", path,
			    parser.problem_mark.line + 1,
			    parser.problem_mark.column + 1,
			    parser.problem != NULL ? parser.problem :
			    "read error");
			rc = -1;
		} else {
			if (yaml_document_get_root_node(&extra) != NULL) {
				log_error("%s:%zu:%zu: a second YAML document "
				    "starts here; the config is one document, "
				    "remove the extra '---'", path,
				    extra.start_mark.line + 1,
				    extra.start_mark.column + 1);
				rc = -1;
			}
			yaml_document_delete(&extra);
		}
		if (rc == -1) {
			tree_free(*out);
			*out = NULL;
		}
	}
out_parser:
	yaml_parser_delete(&parser);
	fclose(fp);
	return rc;
}

void
tree_free(struct node *n)
{
	size_t i;

	if (n == NULL)
		return;
	free(n->scalar);
	if (n->pairs != NULL)
		for (i = 0; i < n->len; i++) {
			free(n->pairs[i].key);
			tree_free(n->pairs[i].value);
		}
	if (n->items != NULL)
		for (i = 0; i < n->len; i++)
			tree_free(n->items[i]);
	free(n->pairs);
	free(n->items);
	free(n);
}
