/* Can a checkpoint continue the run the user asked for now? Both configurations are parsed
 * and echoed canonically (hardy_config_to_string), so the comparison is key by key whatever
 * the spelling of the files; keys that change shapes refuse, the rest are reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/checkpoint.h"
#include "hardy/common.h"
#include "hardy/config.h"

static int parse(const char *text, const char *origin, bool saved, hardy_config_t *cfg) {
  if (saved) hardy_config_saved_defaults(cfg);
  else hardy_config_defaults(cfg);
  return hardy_config_load_string(cfg, text, origin);
}

/* Append "section.key" of every line that differs between two canonical echoes. */
static void list_changes(const char *a, const char *b, char *changed, size_t cap) {
  char section[128] = "";
  size_t used = 0;
  changed[0] = '\0';
  while (*a && *b) {
    size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
    if (a[0] == '[') snprintf(section, sizeof section, "%.*s", (int)(la > 2 ? la - 2 : 0), a + 1);
    else if ((la != lb || strncmp(a, b, la)) && la > 0) {
      size_t key_len = strcspn(a, " =");
      int n = snprintf(changed + used, cap - used, "%s%s.%.*s", used ? "," : "", section,
                       (int)key_len, a);
      if (n > 0 && used + (size_t)n < cap) used += (size_t)n;
      else changed[used] = '\0';
    }
    a += la + (a[la] == '\n');
    b += lb + (b[lb] == '\n');
  }
}

int hardy_ckpt_check_compatible(const hardy_ckpt_info_t *info, const char *config_text_now,
                                uint64_t data_fingerprint_now, const char *program_version_now,
                                size_t n_params_now, char *changed, size_t cap) {
  if (cap) changed[0] = '\0';
  if (program_version_now && strcmp(program_version_now, info->version))
    return hardy_fail(HARDY_ERR_INPUT, "%s was written by hardy-hpc %s, this is %s: resume it "
                      "with version %s or start a new run", info->path, info->version,
                      program_version_now, info->version);
  if (info->data_fingerprint != data_fingerprint_now)
    return hardy_fail(HARDY_ERR_INPUT, "%s was written for another dataset (%s, fingerprint "
                      "%016llx; now %016llx): resume with the same data file or start a new run",
                      info->path, info->data_path, (unsigned long long)info->data_fingerprint,
                      (unsigned long long)data_fingerprint_now);
  hardy_config_t *then = hardy_malloc(2 * sizeof *then, "configurations");
  if (!then) return HARDY_ERR_RUNTIME;
  hardy_config_t *now = then + 1;
  char origin[4200];
  snprintf(origin, sizeof origin, "%s:/meta/config_text", info->path);
  int rc = parse(info->config_text, origin, true, then);
  if (rc == HARDY_OK) rc = parse(config_text_now, "the current configuration", false, now);
  const char *key = NULL;
  if (rc == HARDY_OK && hardy_config_shape_differs(then, now, &key))
    rc = hardy_fail(HARDY_ERR_INPUT, "%s: config key %s differs from the checkpoint's and changes "
                    "the model's shape; resume with the checkpoint's value or start a new run",
                    info->path, key);
  /* after the key comparison, so that a differing shape key is named when there is one */
  if (rc == HARDY_OK && n_params_now && n_params_now != info->n_params)
    rc = hardy_fail(HARDY_ERR_INPUT, "%s holds %zu parameters, the model now has %zu: the "
                    "model configuration differs; start a new run", info->path, info->n_params,
                    n_params_now);
  if (rc == HARDY_OK && cap) {
    char *a = hardy_config_to_string(then), *b = hardy_config_to_string(now);
    if (a && b) list_changes(a, b, changed, cap);
    else rc = HARDY_ERR_RUNTIME;
    free(a), free(b);
  }
  free(then);
  return rc;
}
