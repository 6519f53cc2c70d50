"""The picture of samples/studio_walk.glb in Blender for docs/exports.md (docs/glb_in_blender.png).

Runs inside Blender; Workbench (the viewport's own renderer) needs an OpenGL context, which a
headless machine gets from a virtual display:

    xvfb-run -a blender -b --factory-startup --python docs/glb_picture.py -- \
        samples/studio_walk.glb docs/glb_in_blender.png
"""

import math
import sys

import bpy
import numpy

# Blender 3.4's glTF importer uses numpy's old aliases, which Debian's numpy 1.24 no longer has
for name, alias in (("bool", bool), ("int", int), ("float", float), ("object", object)):
    if name not in vars(numpy):
        setattr(numpy, name, alias)

glb_path, png_path = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
scene.render.fps = 30
bpy.ops.import_scene.gltf(filepath=glb_path)
armature = next(o for o in scene.objects if o.type == "ARMATURE")
armature.show_in_front = True
armature.data.display_type = "STICK"
scene.frame_set(30)      # mid-stride

# the floor, and a camera three-quarters in front of the figure, looking at its pelvis
bpy.ops.mesh.primitive_plane_add(size=8.0)
hips = armature.matrix_world @ armature.pose.bones[0].head
bpy.ops.object.camera_add(location=(hips.x + 2.6, hips.y - 3.4, 1.6))
camera = scene.objects["Camera"]
direction = hips - camera.location
camera.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()
camera.data.lens = 40
scene.camera = camera

scene.render.engine = "BLENDER_WORKBENCH"
shading = scene.display.shading
shading.light, shading.color_type = "STUDIO", "MATERIAL"
shading.show_shadows, shading.show_cavity = True, True
scene.render.resolution_x, scene.render.resolution_y = 640, 480
scene.render.image_settings.file_format = "PNG"
scene.render.image_settings.color_mode = "RGB"
scene.render.image_settings.compression = 100
scene.render.filepath = png_path
scene.world = bpy.data.worlds.new("world") if scene.world is None else scene.world
bpy.ops.render.render(write_still=True)
print("wrote", png_path, "at frame", scene.frame_current, "camera angle", math.degrees(camera.data.angle))
