/* What the engine took in a create and may not have applied, read back from
 * the container's inspect reply: device cgroup rules and device requests
 * (Podman 4.3's Docker API takes both fields and applies neither). */
#include "docker_json.h"

#include "edgeflip/error.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <string.h>

int ef_docker_check_cgroup_rules(const char *json, size_t len, char *const *want)
{
	cJSON *root = json ? cJSON_ParseWithLength(json, len) : NULL;
	const cJSON *host = cJSON_GetObjectItemCaseSensitive(root, "HostConfig");
	const cJSON *have = cJSON_GetObjectItemCaseSensitive(host, "DeviceCgroupRules");
	int error = 0;

	for (size_t i = 0; want && want[i] && error == 0; i++) {
		const cJSON *r;
		bool found = false;

		for (r = cJSON_IsArray(have) ? have->child : NULL; r && !found; r = r->next)
			found = cJSON_IsString(r) && strcmp(r->valuestring, want[i]) == 0;
		if (!found) {
			ef_error_set(
			        "the engine did not apply device cgroup rule \"%s\" "
			        "(Podman 4.3's Docker API ignores device_cgroup_rules): list the "
			        "devices under devices, or run an engine that applies them",
			        want[i]);
			error = EF_EINVALID;
		}
	}
	cJSON_Delete(root);
	return error;
}

int ef_docker_check_device_requests(const char *json, size_t len,
                                    const ef_engine_device_request *want, size_t n)
{
	cJSON *root = json ? cJSON_ParseWithLength(json, len) : NULL;
	const cJSON *host = cJSON_GetObjectItemCaseSensitive(root, "HostConfig");
	const cJSON *have = cJSON_GetObjectItemCaseSensitive(host, "DeviceRequests");
	int error = 0;

	for (size_t i = 0; i < n && error == 0; i++) {
		const char *driver = want[i].driver ? want[i].driver : "";
		bool found = false;

		for (const cJSON *r = cJSON_IsArray(have) ? have->child : NULL; r && !found;
		     r = r->next) {
			const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "Driver");
			const cJSON *caps = cJSON_GetObjectItemCaseSensitive(r, "Capabilities");
			const cJSON *set = cJSON_IsArray(caps) ? caps->child : NULL;
			bool all = cJSON_IsArray(set);

			for (size_t k = 0; all && want[i].capabilities && want[i].capabilities[k];
			     k++) {
				bool has = false;
				for (const cJSON *c = set->child; c && !has; c = c->next)
					has = cJSON_IsString(c) &&
					      !strcmp(c->valuestring, want[i].capabilities[k]);
				all = has;
			}
			found = all &&
			        (cJSON_IsString(d) ? !strcmp(d->valuestring, driver) : !*driver);
		}
		if (!found) {
			ef_error_set(
			        "the engine did not apply the device request (driver %s, "
			        "capabilities %s%s) (Podman 4.3's Docker API ignores "
			        "DeviceRequests): run an engine that applies them (Docker with "
			        "the device's container toolkit), or list the devices under "
			        "devices",
			        *driver ? driver : "any",
			        want[i].capabilities ? want[i].capabilities[0] : "",
			        want[i].capabilities && want[i].capabilities[0] &&
			                        want[i].capabilities[1]
			                ? ", ..."
			                : "");
			error = EF_EINVALID;
		}
	}
	cJSON_Delete(root);
	return error;
}
