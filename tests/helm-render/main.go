// helm-render renders a Helm chart the way `helm template` does, for tests on machines without
// the helm binary: Go text/template with the sprig functions and Helm's own include, tpl,
// required, toYaml, fromYaml and lookup (which finds nothing, as in a dry run), and .Files.Get /
// .Files.GetBytes over the chart folder's files outside templates/.
//
//	helm-render -chart DIR [-f values.yaml]... [-name RELEASE] [-namespace NS] [-values-json FILE] [-notes FILE]
//
// Prints the manifests, each preceded by "# Source: <chart>/templates/<file>", to stdout.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"gopkg.in/yaml.v3"
)

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

func main() {
	chartDir := flag.String("chart", "", "chart folder")
	name := flag.String("name", "release", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	valuesJSON := flag.String("values-json", "", "write the merged values here as JSON (for schema checks)")
	notesFile := flag.String("notes", "", "write the rendered NOTES.txt here")
	var files valueFiles
	flag.Var(&files, "f", "values file (repeatable; later ones win)")
	flag.Parse()
	if err := run(*chartDir, *name, *namespace, files, *valuesJSON, *notesFile); err != nil {
		fmt.Fprintln(os.Stderr, "helm-render:", err)
		os.Exit(1)
	}
}

func run(chartDir, name, namespace string, files []string, valuesJSON, notesFile string) error {
	chart, err := readYAML(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return err
	}
	values, err := readYAML(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		override, err := readYAML(f)
		if err != nil {
			return err
		}
		values = merge(values, override)
	}
	if valuesJSON != "" {
		data, err := json.MarshalIndent(values, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(valuesJSON, data, 0o644); err != nil {
			return err
		}
	}

	chartName := fmt.Sprint(chart["name"])
	root := template.New("gotpl").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	includeDepth := 0
	funcs["include"] = func(name string, data interface{}) (string, error) {
		includeDepth++
		defer func() { includeDepth-- }()
		if includeDepth > 100 {
			return "", fmt.Errorf("include %q: too deep", name)
		}
		var out bytes.Buffer
		err := root.ExecuteTemplate(&out, name, data)
		return out.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var out bytes.Buffer
		err = t.Execute(&out, data)
		return out.String(), err
	}
	funcs["required"] = func(message string, value interface{}) (interface{}, error) {
		if value == nil || value == "" {
			return nil, fmt.Errorf("%s", message)
		}
		return value, nil
	}
	funcs["toYaml"] = func(value interface{}) string {
		var out bytes.Buffer
		encoder := yaml.NewEncoder(&out)
		encoder.SetIndent(2)
		if err := encoder.Encode(value); err != nil {
			return ""
		}
		return strings.TrimSuffix(out.String(), "\n")
	}
	funcs["fromYaml"] = func(text string) map[string]interface{} {
		result := map[string]interface{}{}
		_ = yaml.Unmarshal([]byte(text), &result)
		return result
	}
	funcs["lookup"] = func(apiVersion, kind, namespace, name string) map[string]interface{} {
		return map[string]interface{}{}
	}
	root.Funcs(funcs)

	templates, err := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	if err != nil {
		return err
	}
	sort.Strings(templates)
	for _, path := range templates {
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if _, err := root.New(chartName + "/templates/" + filepath.Base(path)).Parse(string(text)); err != nil {
			return err
		}
	}

	top := map[string]interface{}{
		"Values":  values,
		"Files":   chartFiles{root: chartDir},
		"Chart":   map[string]interface{}{"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]},
		"Release": map[string]interface{}{"Name": name, "Namespace": namespace, "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1},
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{"Version": "v1.30.0", "Major": "1", "Minor": "30"},
		},
	}
	for _, path := range templates {
		base := filepath.Base(path)
		if strings.HasPrefix(base, "_") {
			continue
		}
		templateName := chartName + "/templates/" + base
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{"Name": templateName, "BasePath": chartName + "/templates"}
		var out bytes.Buffer
		if err := root.ExecuteTemplate(&out, templateName, data); err != nil {
			return err
		}
		rendered := strings.ReplaceAll(out.String(), "<no value>", "")
		if base == "NOTES.txt" {
			if notesFile != "" {
				if err := os.WriteFile(notesFile, []byte(rendered), 0o644); err != nil {
					return err
				}
			}
			continue
		}
		for _, document := range strings.Split(rendered, "\n---") {
			if strings.TrimSpace(document) == "" {
				continue
			}
			fmt.Printf("---\n# Source: %s\n%s\n", templateName, strings.Trim(document, "\n"))
		}
	}
	return nil
}

// chartFiles is Helm's .Files: the chart's files by their path in the chart folder ("" for a
// missing one, a template, or a path that leaves the folder, as Helm finds nothing there).
type chartFiles struct{ root string }

func (f chartFiles) GetBytes(name string) []byte {
	clean := filepath.ToSlash(filepath.Clean(filepath.FromSlash(name)))
	if clean == ".." || strings.HasPrefix(clean, "../") || strings.HasPrefix(clean, "/") || strings.HasPrefix(clean, "templates/") {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(f.root, filepath.FromSlash(clean)))
	if err != nil {
		return nil
	}
	return data
}

func (f chartFiles) Get(name string) string { return string(f.GetBytes(name)) }

func readYAML(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	result := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &result); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return result, nil
}

// merge overlays override onto base, recursing into maps (Helm's coalescing of values files).
func merge(base, override map[string]interface{}) map[string]interface{} {
	for key, value := range override {
		if sub, ok := value.(map[string]interface{}); ok {
			if existing, ok := base[key].(map[string]interface{}); ok {
				base[key] = merge(existing, sub)
				continue
			}
		}
		base[key] = value
	}
	return base
}
